import Addresses
import Testing

@Suite struct IPv4AddressTests {
  @Test(arguments: [
    ("0.0.0.0", UInt32(0)),
    ("10.0.0.1", 0x0A00_0001),
    ("192.168.255.7", 0xC0A8_FF07),
    ("255.255.255.255", 0xFFFF_FFFF),
  ])
  func parsePrintRoundTrip(_ text: String, _ value: UInt32) throws {
    let address = try IPv4Address(parsing: text)
    #expect(address.rawValue == value)
    #expect(address.description == text)
    #expect(IPv4Address(rawValue: value).description == text)
  }

  @Test func octets() throws {
    let address = IPv4Address(172, 16, 3, 4)
    #expect(address == (try IPv4Address(parsing: "172.16.3.4")))
    #expect(address.octets == (172, 16, 3, 4))
    #expect(address.bytes == [172, 16, 3, 4])
    #expect(IPv4Address.any.rawValue == 0)
    #expect(IPv4Address.broadcast.description == "255.255.255.255")
  }

  @Test func classifies() {
    #expect(IPv4Address(224, 0, 0, 5).isMulticast)
    #expect(!IPv4Address(223, 255, 255, 255).isMulticast)
    #expect(IPv4Address(127, 0, 0, 1).isLoopback)
    #expect(IPv4Address(169, 254, 1, 1).isLinkLocal)
    #expect(IPv4Address.broadcast.isBroadcast)
    #expect(IPv4Address.any.isUnspecified)
    #expect(IPv4Address(9, 255, 255, 255) < IPv4Address(10, 0, 0, 0))
  }

  @Test(arguments: [
    "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.1000", "01.2.3.4", "1.2.3.00", "1..2.3",
    ".1.2.3", "1.2.3.", "a.b.c.d", "1.2.3.4 ", " 1.2.3.4", "-1.2.3.4", "1.2.3.4/32",
    "01234.1.1.1", "1.2.3.-4", "010.0.0.1",
  ])
  func parseRejects(_ text: String) {
    #expect(IPv4Address(text) == nil)
    do {
      _ = try IPv4Address(parsing: text)
      Issue.record("accepted '\(text)'")
    } catch {
      #expect(error.code == .invalidIPv4Address)
      #expect(error.message.contains("'\(text)'"))
    }
  }
}
