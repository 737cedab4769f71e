import Packets
import Testing

@Suite struct MACAddressTests {
  @Test func parsesAndPrints() throws {
    let mac = try #require(MACAddress("AA:bb:0c:dd:ee:0F"))
    #expect(mac.rawValue == 0xAABB_0CDD_EE0F)
    #expect(mac.description == "aa:bb:0c:dd:ee:0f")
    #expect(mac.bytes == [0xAA, 0xBB, 0x0C, 0xDD, 0xEE, 0x0F])
    #expect(MACAddress("2-0-0-0-0-a") == MACAddress(2, 0, 0, 0, 0, 0xA))
    #expect(MACAddress(bytes: [1, 2, 3, 4, 5, 6]) == MACAddress(1, 2, 3, 4, 5, 6))
    #expect(MACAddress(bytes: [1, 2, 3]) == nil)
  }

  @Test(arguments: [
    "", "aa:bb:cc:dd:ee", "aa:bb:cc:dd:ee:ff:00", "aa:bb:cc:dd:ee:fff", "aa::cc:dd:ee:ff",
    "aa:bb-cc:dd:ee:ff", "gg:bb:cc:dd:ee:ff", "aa:bb:cc:dd:ee:ff:", ":aa:bb:cc:dd:ee",
  ])
  func rejectsMalformed(_ text: String) {
    #expect(MACAddress(text) == nil)
  }

  @Test func classifies() throws {
    #expect(MACAddress.broadcast.isBroadcast)
    #expect(MACAddress.broadcast.isMulticast)
    #expect(try #require(MACAddress("01:00:5e:00:00:01")).isMulticast)
    #expect(try #require(MACAddress("33:33:00:00:00:01")).isMulticast)
    #expect(Fixture.macA.isUnicast)
    #expect(Fixture.macA.isLocallyAdministered)
    #expect(!(try #require(MACAddress("00:1b:21:00:00:01")).isLocallyAdministered))
    #expect(MACAddress.zero.isZero)
    #expect(MACAddress(rawValue: .max) == .broadcast)
    #expect(Fixture.macA < Fixture.macB)
  }
}

@Suite struct IPv4AddressTests {
  @Test func parsesAndPrints() throws {
    let address = try #require(IPv4Address("192.168.1.254"))
    #expect(address.rawValue == 0xC0A8_01FE)
    #expect(address.description == "192.168.1.254")
    #expect(address == IPv4Address(192, 168, 1, 254))
    #expect(IPv4Address("0.0.0.0") == .any)
    #expect(IPv4Address("10.0.100.0") == IPv4Address(10, 0, 100, 0))
    #expect(IPv4Address("255.255.255.255") == .broadcast)
    #expect(IPv4Address(rawValue: 0x0A00_0001).octets == (10, 0, 0, 1))
  }

  @Test(arguments: [
    "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1..2.3", "1.2.3.4.", ".1.2.3", "01234.1.1.1",
    "a.b.c.d", "1.2.3.-4", " 1.2.3.4", "010.0.0.1", "1.2.3.00",
  ])
  func rejectsMalformed(_ text: String) {
    #expect(IPv4Address(text) == nil)
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
}

@Suite struct IPv4PrefixTests {
  @Test func parsesNormalisesAndPrints() throws {
    let prefix = try #require(IPv4Prefix("10.1.2.3/8"))
    #expect(prefix.address == IPv4Address(10, 0, 0, 0))
    #expect(prefix.length == 8)
    #expect(prefix.description == "10.0.0.0/8")
    #expect(prefix == IPv4Prefix("10.0.0.0/8"))
    #expect(IPv4Prefix("10.0.0.7") == IPv4Prefix(host: IPv4Address(10, 0, 0, 7)))
    #expect(IPv4Prefix("0.0.0.0/0") == .any)
    #expect(IPv4Prefix(address: .broadcast, length: 33) == nil)
    #expect(IPv4Prefix(address: .broadcast, length: -1) == nil)
  }

  @Test(arguments: ["10.0.0.0/33", "10.0.0.0/", "10.0.0.0/8/8", "10.0.0/8", "/8", "10.0.0.0/+8"])
  func rejectsMalformed(_ text: String) {
    #expect(IPv4Prefix(text) == nil)
  }

  @Test func masksAndContainment() throws {
    let net = try #require(IPv4Prefix("192.168.10.0/24"))
    #expect(net.mask == IPv4Address(255, 255, 255, 0))
    #expect(net.hostMask == IPv4Address(0, 0, 0, 255))
    #expect(net.first == IPv4Address(192, 168, 10, 0))
    #expect(net.last == IPv4Address(192, 168, 10, 255))
    #expect(net.contains(IPv4Address(192, 168, 10, 77)))
    #expect(!net.contains(IPv4Address(192, 168, 11, 0)))
    #expect(net.contains(try #require(IPv4Prefix("192.168.10.128/25"))))
    #expect(!net.contains(try #require(IPv4Prefix("192.168.0.0/16"))))
    #expect(net.overlaps(try #require(IPv4Prefix("192.168.0.0/16"))))
    #expect(!net.overlaps(try #require(IPv4Prefix("192.168.11.0/24"))))
    #expect(IPv4Prefix.any.contains(IPv4Address(8, 8, 8, 8)))
    #expect(IPv4Prefix.any.mask == .any)
    #expect(IPv4Prefix(host: Fixture.ipA).mask == .broadcast)
    #expect(IPv4Prefix.maskBits(1) == 0x8000_0000)
    #expect(IPv4Prefix.maskBits(31) == 0xFFFF_FFFE)
  }

  @Test func ordersByAddressThenLength() throws {
    let prefixes = ["10.0.0.0/16", "10.0.0.0/8", "9.0.0.0/8"].compactMap(IPv4Prefix.init)
    #expect(prefixes.sorted().map(\.description) == ["9.0.0.0/8", "10.0.0.0/8", "10.0.0.0/16"])
  }
}
