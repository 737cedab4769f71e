import Testing
import Topology

@Suite struct MACAddressTests {
  @Test func parsePrintRoundTrip() throws {
    let parsed = try MACAddress(parsing: "02:00:5E:10:aB:ff")
    #expect(parsed.value == 0x0200_5E10_ABFF)
    #expect(parsed.description == "02:00:5e:10:ab:ff")
    #expect(parsed.bytes == [0x02, 0x00, 0x5E, 0x10, 0xAB, 0xFF])
    #expect(MACAddress(bytes: parsed.bytes) == parsed)
    #expect(MACAddress.zero.description == "00:00:00:00:00:00")
    #expect(MACAddress.broadcast.description == "ff:ff:ff:ff:ff:ff")
  }

  @Test func valueIsTruncatedTo48Bits() {
    #expect(MACAddress(0xFFFF_0000_0000_0001).value == 1)
  }

  @Test func groupBit() {
    #expect(mac("01:00:5e:00:00:01").isMulticast)
    #expect(MACAddress.broadcast.isMulticast)
    #expect(MACAddress.broadcast.isBroadcast)
    #expect(mac("02:00:00:00:00:01").isUnicast)
    #expect(!mac("02:00:00:00:00:01").isBroadcast)
  }

  @Test(arguments: [
    "", "00:11:22:33:44", "00-11-22-33-44-55", "0:1:2:3:4:5", "00:11:22:33:44:gg",
    "00:11:22:33:44:55:66", "001122334455", "00:11:22:33:44:5 ",
  ])
  func parseRejects(_ text: String) {
    #expect(MACAddress(text) == nil)
    do {
      _ = try MACAddress(parsing: text)
      Issue.record("accepted '\(text)'")
    } catch {
      #expect(error.code == .invalidMACAddress)
    }
  }
}
