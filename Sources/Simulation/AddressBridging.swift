import Packets
import Topology

// Conversions between the two families of address types.
//
// `Topology` and `Packets` each define `IPv4Address`, `MACAddress` and
// `IPv4Prefix` today (both are plain integer wrappers with the same bit
// layout). The simulator works in the `Packets` types — flow matches, state
// tables and results are about packets — and converts topology values at the
// few places they meet: compiling the view (`SimulationView+Compile.swift`),
// building a rule's `MatchContext`, and picking NAT targets. Every conversion
// goes through the two properties below, so when the types are merged into one
// module this file becomes `var packets: Self { self }` / `var topology: Self
// { self }` (or the call sites lose the suffix) and nothing else changes.

extension Topology.IPv4Address {
  /// The same address as a `Packets` value.
  var packets: Packets.IPv4Address { Packets.IPv4Address(rawValue: value) }
}

extension Packets.IPv4Address {
  /// The same address as a `Topology` value.
  var topology: Topology.IPv4Address { Topology.IPv4Address(rawValue) }
}

extension Topology.MACAddress {
  /// The same address as a `Packets` value.
  var packets: Packets.MACAddress { Packets.MACAddress(rawValue: value) }
}

extension Packets.MACAddress {
  /// The same address as a `Topology` value.
  var topology: Topology.MACAddress { Topology.MACAddress(rawValue) }
}
