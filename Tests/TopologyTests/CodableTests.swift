import Addresses
import Testing
import Topology

#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The textual types encode as their canonical strings, and a whole snapshot
/// survives an encode/decode round trip unchanged.
@Suite struct CodableTests {
  @Test func scalarsEncodeAsStrings() throws {
    let encoder = JSONEncoder()
    let value = [
      "id": ID(high: 1, low: 2).description,
      "ip": ip("10.0.0.1").description,
      "prefix": prefix("10.0.0.0/8").description,
      "mac": mac("02:00:00:00:00:01").description,
    ]
    struct Wrapper: Codable, Equatable {
      var id: ID
      var ip: IPv4Address
      var prefix: IPv4Prefix
      var mac: MACAddress
    }
    let wrapper = Wrapper(
      id: ID(high: 1, low: 2), ip: ip("10.0.0.1"), prefix: prefix("10.0.0.0/8"),
      mac: mac("02:00:00:00:00:01"))
    let fromWrapper = try JSONDecoder().decode(
      [String: String].self, from: encoder.encode(wrapper))
    #expect(fromWrapper == value)
    #expect(try JSONDecoder().decode(Wrapper.self, from: encoder.encode(value)) == wrapper)
  }

  @Test func badStringsFailToDecode() {
    let bad = Data(#"["10.0.0.300"]"#.utf8)
    #expect(throws: DecodingError.self) { try JSONDecoder().decode([IPv4Address].self, from: bad) }
    let badID = Data(#"["not-an-id"]"#.utf8)
    #expect(throws: DecodingError.self) { try JSONDecoder().decode([ID].self, from: badID) }
  }

  @Test func snapshotRoundTrip() throws {
    let topology = TopologyFixture.make()
    let data = try JSONEncoder().encode(topology)
    let decoded = try JSONDecoder().decode(TopologySnapshot.self, from: data)
    #expect(decoded == topology)
  }
}
