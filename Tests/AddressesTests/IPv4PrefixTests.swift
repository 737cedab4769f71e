import Addresses
import Testing

/// Parses a test literal; a typo in a test fails that test rather than trapping.
func ip(_ text: String) -> IPv4Address {
  guard let address = IPv4Address(text) else {
    Issue.record("bad test address '\(text)'")
    return .any
  }
  return address
}

func prefix(_ text: String) -> IPv4Prefix {
  guard let prefix = IPv4Prefix(text) else {
    Issue.record("bad test prefix '\(text)'")
    return .all
  }
  return prefix
}

@Suite struct IPv4PrefixTests {
  @Test func parsePrintRoundTrip() throws {
    for text in ["0.0.0.0/0", "10.0.0.0/8", "192.168.1.0/24", "10.0.0.1/24", "1.2.3.4/32"] {
      #expect(try IPv4Prefix(parsing: text).description == text)
    }
    let parsed = prefix("10.1.2.3/16")
    #expect(parsed.address == ip("10.1.2.3"))
    #expect(parsed.length == 16)
  }

  @Test func containsAddresses() {
    let net = prefix("192.168.1.0/24")
    #expect(net.contains(ip("192.168.1.0")))
    #expect(net.contains(ip("192.168.1.77")))
    #expect(net.contains(ip("192.168.1.255")))
    #expect(!net.contains(ip("192.168.0.255")))
    #expect(!net.contains(ip("192.168.2.0")))
    // An odd length: 10.0.0.0/13 spans 10.0.0.0 ... 10.7.255.255.
    let odd = prefix("10.0.0.0/13")
    #expect(odd.contains(ip("10.7.255.255")))
    #expect(!odd.contains(ip("10.8.0.0")))
  }

  @Test func zeroLengthContainsEverything() {
    let all = prefix("0.0.0.0/0")
    #expect(all == .all)
    #expect(all.mask == 0)
    for address in ["0.0.0.0", "10.0.0.1", "255.255.255.255"] {
      #expect(all.contains(ip(address)))
    }
    // Host bits of a /0 are ignored too.
    #expect(prefix("1.2.3.4/0").contains(ip("200.1.1.1")))
    #expect(prefix("1.2.3.4/0").canonical == .all)
  }

  @Test func fullLengthContainsOnlyItself() {
    let one = IPv4Prefix.host(ip("10.0.0.7"))
    #expect(one == prefix("10.0.0.7/32"))
    #expect(one.mask == 0xFFFF_FFFF)
    #expect(one.contains(ip("10.0.0.7")))
    #expect(!one.contains(ip("10.0.0.6")))
    #expect(!one.contains(ip("10.0.0.8")))
    #expect(one.isCanonical)
    #expect(one.network == one.broadcast)
  }

  @Test func canonicalization() {
    let sloppy = prefix("10.1.2.3/16")
    #expect(!sloppy.isCanonical)
    #expect(sloppy.network == ip("10.1.0.0"))
    #expect(sloppy.broadcast == ip("10.1.255.255"))
    #expect(sloppy.netmask == ip("255.255.0.0"))
    #expect(sloppy.canonical == prefix("10.1.0.0/16"))
    #expect(sloppy.canonical.isCanonical)
    // Same addresses, different values until canonicalized.
    #expect(sloppy != sloppy.canonical)
    #expect(sloppy.contains(ip("10.1.200.1")) == sloppy.canonical.contains(ip("10.1.200.1")))
    #expect(prefix("10.0.0.255/25").canonical == prefix("10.0.0.128/25"))
  }

  @Test func containsPrefixes() {
    let big = prefix("10.0.0.0/8")
    #expect(big.contains(prefix("10.20.0.0/16")))
    #expect(big.contains(big))
    #expect(!big.contains(prefix("0.0.0.0/0")))
    #expect(!big.contains(prefix("11.0.0.0/16")))
    #expect(!prefix("10.20.0.0/16").contains(big))
    #expect(IPv4Prefix.all.contains(big))
  }

  @Test(arguments: [
    "10.0.0.0", "10.0.0.0/", "/8", "10.0.0/8", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1",
    "10.0.0.0/8/8", " 10.0.0.0/8", "10.0.0.0/ 8", "10.0.0.0/8 ", "256.0.0.0/8", "10.0.0.0/100",
    "10.0.0.0/+8",
  ])
  func parseRejects(_ text: String) {
    #expect(IPv4Prefix(text) == nil)
    do {
      _ = try IPv4Prefix(parsing: text)
      Issue.record("accepted '\(text)'")
    } catch {
      #expect(error.code == .invalidIPv4Prefix)
      #expect(error.input == text)
    }
  }
}
