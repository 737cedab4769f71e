import Addresses
import Foundation
import Testing

@Suite struct MACAddressTests {
  @Test func parsePrintRoundTrip() throws {
    let parsed = try MACAddress(parsing: "02:00:5E:10:aB:ff")
    #expect(parsed.rawValue == 0x0200_5E10_ABFF)
    #expect(parsed.description == "02:00:5e:10:ab:ff")
    #expect(parsed.bytes == [0x02, 0x00, 0x5E, 0x10, 0xAB, 0xFF])
    #expect(MACAddress(bytes: parsed.bytes) == parsed)
    #expect(MACAddress(bytes: [1, 2, 3, 4, 5, 6]) == MACAddress(1, 2, 3, 4, 5, 6))
    #expect(MACAddress(bytes: [1, 2, 3]) == nil)
    #expect(MACAddress.zero.description == "00:00:00:00:00:00")
    #expect(MACAddress.broadcast.description == "ff:ff:ff:ff:ff:ff")
  }

  @Test func valueIsTruncatedTo48Bits() {
    #expect(MACAddress(rawValue: 0xFFFF_0000_0000_0001).rawValue == 1)
    #expect(MACAddress(rawValue: .max) == .broadcast)
  }

  @Test func classifies() throws {
    let local = try MACAddress(parsing: "02:00:00:00:00:01")
    #expect(try MACAddress(parsing: "01:00:5e:00:00:01").isMulticast)
    #expect(try MACAddress(parsing: "33:33:00:00:00:01").isMulticast)
    #expect(MACAddress.broadcast.isMulticast)
    #expect(MACAddress.broadcast.isBroadcast)
    #expect(local.isUnicast)
    #expect(!local.isBroadcast)
    #expect(local.isLocallyAdministered)
    #expect(!(try MACAddress(parsing: "00:1b:21:00:00:01")).isLocallyAdministered)
    #expect(MACAddress.zero.isZero)
    #expect(local < MACAddress(2, 0, 0, 0, 0, 2))
  }

  @Test(arguments: [
    "", "00:11:22:33:44", "00-11-22-33-44-55", "0:1:2:3:4:5", "00:11:22:33:44:gg",
    "00:11:22:33:44:55:66", "001122334455", "00:11:22:33:44:5 ", "aa::cc:dd:ee:ff",
    "aa:bb-cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:", ":aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:fff",
  ])
  func parseRejects(_ text: String) {
    #expect(MACAddress(text) == nil)
    do {
      _ = try MACAddress(parsing: text)
      Issue.record("accepted '\(text)'")
    } catch {
      #expect(error.code == .invalidMACAddress)
      #expect(error.input == text)
    }
  }

  @Test func codableUsesTheTextForm() throws {
    let mac = MACAddress(2, 0, 0, 0, 0, 0xA)
    let data = try JSONEncoder().encode([mac])
    #expect(String(decoding: data, as: UTF8.self) == #"["02:00:00:00:00:0a"]"#)
    #expect(try JSONDecoder().decode([MACAddress].self, from: data) == [mac])
    #expect(throws: DecodingError.self) {
      try JSONDecoder().decode([MACAddress].self, from: Data(#"["02:00"]"#.utf8))
    }
  }
}
