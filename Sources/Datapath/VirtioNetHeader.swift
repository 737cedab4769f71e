import Packets

/// The `struct virtio_net_hdr` that AF_PACKET puts before each frame when the socket has
/// PACKET_VNET_HDR: how the sender left the checksum (partial: the kernel, or whoever
/// transmits, must finish it) and whether the frame is a GSO super-packet to be cut into
/// `gsoSize` segments.
///
/// veth interfaces send TCP and UDP with CHECKSUM_PARTIAL (TX checksum offload is on by
/// default), so frames read from them carry only the pseudo-header sum in the checksum
/// field. Forwarded as they are to a socket without this header, the receiver drops them.
/// The packet loop therefore either completes the checksum in software (ordinary
/// frames), or keeps the header and passes it on with the frame (GSO frames, so 64 KB
/// TCP segments cross whole and the kernel segments them on the way out).
public struct VirtioNetHeader: Hashable, Sendable {
  /// The header's size on the wire.
  public static let size = 10
  /// VIRTIO_NET_HDR_F_NEEDS_CSUM.
  public static let needsChecksum: UInt8 = 1
  /// VIRTIO_NET_HDR_GSO_NONE.
  public static let gsoNone: UInt8 = 0
  /// VIRTIO_NET_HDR_GSO_TCPV4.
  public static let gsoTCPv4: UInt8 = 1
  /// VIRTIO_NET_HDR_GSO_UDP.
  public static let gsoUDP: UInt8 = 3
  /// VIRTIO_NET_HDR_GSO_UDP_L4.
  public static let gsoUDPL4: UInt8 = 5

  /// Flags; `needsChecksum` when the checksum is partial.
  public var flags: UInt8 = 0
  /// The GSO type; `gsoNone` for an ordinary frame.
  public var gsoType: UInt8 = 0
  /// The length of the headers before the segmented payload.
  public var headerLength: UInt16 = 0
  /// The payload bytes per segment.
  public var gsoSize: UInt16 = 0
  /// Where the checksummed range starts (the transport header).
  public var checksumStart: UInt16 = 0
  /// The checksum field's offset from `checksumStart`.
  public var checksumOffset: UInt16 = 0

  /// A header saying "complete frame, nothing to do".
  public init() {}

  /// True when the checksum is partial.
  public var isChecksumPartial: Bool { flags & VirtioNetHeader.needsChecksum != 0 }
  /// True for a GSO super-packet.
  public var isGSO: Bool { gsoType != VirtioNetHeader.gsoNone }

  /// Reads a header (native byte order, as the kernel writes it on little-endian hosts).
  public init(_ bytes: UnsafeRawBufferPointer) {
    guard bytes.count >= VirtioNetHeader.size else { return }
    flags = bytes[0]
    gsoType = bytes[1]
    headerLength = bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
    gsoSize = bytes.loadUnaligned(fromByteOffset: 4, as: UInt16.self)
    checksumStart = bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
    checksumOffset = bytes.loadUnaligned(fromByteOffset: 8, as: UInt16.self)
  }

  /// Writes the header into the first ten bytes of `bytes`.
  public func write(to bytes: UnsafeMutableRawBufferPointer) {
    guard bytes.count >= VirtioNetHeader.size else { return }
    bytes[0] = flags
    bytes[1] = gsoType
    bytes.storeBytes(of: headerLength, toByteOffset: 2, as: UInt16.self)
    bytes.storeBytes(of: gsoSize, toByteOffset: 4, as: UInt16.self)
    bytes.storeBytes(of: checksumStart, toByteOffset: 6, as: UInt16.self)
    bytes.storeBytes(of: checksumOffset, toByteOffset: 8, as: UInt16.self)
  }

  /// Finishes a partial checksum in `frame` in software, as the NIC would: the ones'
  /// complement sum from `checksumStart` to the end (the field holds the pseudo-header
  /// sum), complemented, stored at `checksumStart + checksumOffset`; then clears the
  /// flag. Returns false, changing nothing, when the offsets do not fit the frame.
  @discardableResult
  public mutating func completeChecksum(in frame: UnsafeMutableRawBufferPointer) -> Bool {
    guard isChecksumPartial else { return true }
    let start = Int(checksumStart)
    let field = start + Int(checksumOffset)
    guard start < frame.count, field + 2 <= frame.count else { return false }
    let covered = UnsafeRawBufferPointer(rebasing: frame[start..<frame.count])
    var value = Checksum.finish(Checksum.partialSum(covered))
    // A UDP checksum (field at offset 6) computed as 0 is sent as all ones (RFC 768).
    if value == 0 && checksumOffset == 6 { value = 0xFFFF }
    frame[field] = UInt8(truncatingIfNeeded: value >> 8)
    frame[field + 1] = UInt8(truncatingIfNeeded: value)
    flags &= ~VirtioNetHeader.needsChecksum
    return true
  }
}
