/// The transport header of a parsed packet.
public enum TransportHeader: Hashable, Sendable {
  case tcp(TCPHeader)
  case udp(UDPHeader)
  case icmp(ICMPHeader)
}
