/// Where a VXLAN-encapsulated frame was found: the tunnel header and the inner frame's
/// byte range, in the buffer that was decapsulated. Nothing is copied.
public struct VXLANPacket: Hashable, Sendable {
  /// The tunnel header; `header.vni` is the tunnel key.
  public var header: VXLANHeader
  /// The outer frame's layers when a whole frame was decapsulated; nil for a bare UDP
  /// payload.
  public var outer: ParsedPacket?
  /// The inner Ethernet frame's range.
  public var innerRange: Range<Int>

  public init(header: VXLANHeader, outer: ParsedPacket?, innerRange: Range<Int>) {
    self.header = header
    self.outer = outer
    self.innerRange = innerRange
  }
}
