import Testing
import Topology

@Suite struct IPv4AddressTests {
  @Test(arguments: [
    ("0.0.0.0", UInt32(0)),
    ("10.0.0.1", 0x0A00_0001),
    ("192.168.255.7", 0xC0A8_FF07),
    ("255.255.255.255", 0xFFFF_FFFF),
  ])
  func parsePrintRoundTrip(_ text: String, _ value: UInt32) throws {
    let address = try IPv4Address(parsing: text)
    #expect(address.value == value)
    #expect(address.description == text)
    #expect(IPv4Address(value).description == text)
  }

  @Test func octets() {
    let address = IPv4Address(172, 16, 3, 4)
    #expect(address == ip("172.16.3.4"))
    #expect(address.octets == [172, 16, 3, 4])
    #expect(IPv4Address.any.value == 0)
    #expect(IPv4Address.broadcast.description == "255.255.255.255")
    #expect(ip("10.0.0.1") < ip("10.0.0.2"))
  }

  @Test(arguments: [
    "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.1000", "01.2.3.4", "1.2.3.00", "1..2.3",
    ".1.2.3", "1.2.3.", "a.b.c.d", "1.2.3.4 ", " 1.2.3.4", "-1.2.3.4", "1.2.3.4/32",
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
