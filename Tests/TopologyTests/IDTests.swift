import Addresses
import MidgeTestSupport
import Testing

@testable import Topology

@Suite struct IDTests {
  @Test func parsePrintRoundTrip() throws {
    let text = "0123abcd-4567-89ef-fedc-ba9876543210"
    let parsed = try ID(parsing: text)
    #expect(parsed.high == 0x0123_abcd_4567_89ef)
    #expect(parsed.low == 0xfedc_ba98_7654_3210)
    #expect(parsed.description == text)
    #expect(ID(parsed.description) == parsed)
  }

  @Test func parseAcceptsUppercaseAndPrintsLowercase() {
    let parsed = ID("0123ABCD-4567-89EF-FEDC-BA9876543210")
    #expect(parsed?.description == "0123abcd-4567-89ef-fedc-ba9876543210")
  }

  @Test func zeroAndAllOnesPrint() {
    #expect(ID.zero.description == "00000000-0000-0000-0000-000000000000")
    #expect(
      ID(high: .max, low: .max).description == "ffffffff-ffff-ffff-ffff-ffffffffffff")
  }

  @Test(
    arguments: [
      "",
      "0123abcd-4567-89ef-fedc-ba987654321",
      "0123abcd-4567-89ef-fedc-ba98765432100",
      "0123abcd045670890ef0fedc0ba9876543210",
      "0123abcd-4567-89ef-fedcb-a9876543210",
      "0123abcg-4567-89ef-fedc-ba9876543210",
      "{123abcd-4567-89ef-fedc-ba9876543210}",
      "0123abcd-4567-89ef-fedc-ba987654321 ",
    ])
  func parseRejects(_ text: String) {
    #expect(ID(text) == nil)
    #expect(throws: ParseError.self) { try ID(parsing: text) }
    do {
      _ = try ID(parsing: text)
    } catch {
      #expect(error.code == .invalidID)
      #expect(error.input == text)
    }
  }

  @Test func nameDerivedIsStable() {
    let namespace = ID(name: "some-namespace")
    #expect(
      ID(name: "bridge/front", namespace: namespace)
        == ID(name: "bridge/front", namespace: namespace))
    #expect(ID(name: "x") == ID(name: "x", namespace: .midgeNamespace))
  }

  @Test func nameDerivedDiffersByNameAndNamespace() {
    let a = ID(name: "tenant-a")
    let b = ID(name: "tenant-b")
    #expect(ID(name: "port/1", namespace: a) != ID(name: "port/2", namespace: a))
    #expect(ID(name: "port/1", namespace: a) != ID(name: "port/1", namespace: b))
    #expect(ID(name: "") != ID(name: "", namespace: a))
    // Names differing in one character should differ in both halves.
    let one = ID(name: "port/1", namespace: a)
    let two = ID(name: "port/2", namespace: a)
    #expect(one.high != two.high)
    #expect(one.low != two.low)
  }

  @Test func nameDerivedHasVersion8AndRFCVariant() {
    for name in ["", "a", "midge", "a much longer name with spaces and ünïcödé"] {
      let derived = ID(name: name)
      #expect(derived.version == 8)
      #expect(derived.isRFCVariant)
      #expect(ID(derived.description) == derived)
      let text = derived.description
      #expect(text.count == 36)
      #expect(text == text.lowercased())
    }
  }

  /// Pinned values: computed by an independent Python implementation of the
  /// documented recipe (FNV-1a-128 over namespace bytes + UTF-8 name, three
  /// Feistel rounds of MurmurHash3 fmix64, version 8, RFC variant). If these
  /// change, every id derived from a topology file changes: don't.
  @Test func nameDerivedPinnedValues() {
    #expect(ID.midgeNamespace.description == "6150b40a-3d63-8357-b4ac-9ed2db2f4599")
    #expect(ID(name: "port/uplink").description == "e0ed75b8-1739-89be-9bb9-a3d38d5a08c3")
  }

  /// Published FNV-1a 128 test vectors (draft-eastlake-fnv).
  @Test func fnv1a128Vectors() {
    let cases: [(String, UInt64, UInt64)] = [
      ("", 0x6c62_272e_07bb_0142, 0x62b8_2175_6295_c58d),
      ("a", 0xd228_cb69_6f1a_8caf, 0x7891_2b70_4e4a_8964),
      ("foobar", 0x343e_1662_793c_64bf, 0x6f0d_3597_ba44_6f18),
    ]
    for (input, high, low) in cases {
      var hash = FNV1a128()
      hash.combine(Array(input.utf8))
      #expect(hash.high == high, "FNV-1a-128(\"\(input)\")")
      #expect(hash.low == low, "FNV-1a-128(\"\(input)\")")
    }
  }

  @Test func randomIsVersion4AndReproducibleWithSeed() {
    var first = SplitMix64(state: 42)
    var second = SplitMix64(state: 42)
    let a = ID.random(using: &first)
    let b = ID.random(using: &second)
    #expect(a == b)
    #expect(a.version == 4)
    #expect(a.isRFCVariant)
    let c = ID.random(using: &first)
    #expect(c != a)
    #expect(ID.random().version == 4)
    #expect(ID.random() != ID.random())
  }

  @Test func orderFollowsText() {
    let ids = (0..<50).map { ID(name: "order-\($0)") }
    #expect(ids.sorted().map(\.description) == ids.map(\.description).sorted())
  }
}
