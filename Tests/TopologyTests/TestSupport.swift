import Addresses
import MidgeTestSupport
import Topology

/// Test shorthands that crash loudly on a typo in a literal.
func ip(_ text: String) -> IPv4Address { IPv4Address(text)! }
func prefix(_ text: String) -> IPv4Prefix { IPv4Prefix(text)! }
func mac(_ text: String) -> MACAddress { MACAddress(text)! }
func id(_ name: String) -> ID { ID(name: name, namespace: ID(name: "topology-tests")) }
