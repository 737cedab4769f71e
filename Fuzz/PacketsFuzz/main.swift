import Addresses

// libFuzzer harness for the Packets module, built outside SwiftPM by Fuzz/run.sh:
// swiftc -sanitize=fuzzer,address -parse-as-library compiles Sources/Packets/*.swift and
// this file into one module, so internal helpers are visible here too.
//
// Besides "does not crash" (AddressSanitizer catches out-of-bounds reads the bounds
// checks might miss), it checks invariants that parsing and rewriting must keep:
//  - a rewrite updates the ParsedPacket exactly as re-parsing the rewritten frame would;
//  - a checksum that verified before an incremental rewrite still verifies after it;
//  - RFC 1624 incremental updates agree with full recomputation;
//  - a decapsulated VXLAN inner frame lies inside the outer frame.
// A broken invariant traps on purpose so libFuzzer records the input.

@_cdecl("LLVMFuzzerTestOneInput")
public func packetsFuzzTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
  let bytes = UnsafeRawBufferPointer(start: data, count: size)
  fuzzParse(bytes)
  fuzzDecapsulate(bytes)
  fuzzIncrementalChecksum(bytes)
  return 0
}

private func fuzzParse(_ bytes: UnsafeRawBufferPointer) {
  guard let packet = try? PacketParser.parse(bytes) else { return }
  let match = FlowMatch(packet, ingressPort: 7, tunnelKey: 42)
  var hasher = Hasher()
  hasher.combine(match)
  _ = hasher.finalize()
  if let range = packet.payloadRange {
    require(range.lowerBound >= 0 && range.upperBound <= bytes.count, "payload outside frame")
  }
  if packet.ipv4?.fragmentType == .later {
    require(packet.transport == nil && !match.hasTransportLayer, "later fragment with L4 fields")
  }
  _ = packet.icmpQuote(in: bytes)
  _ = packet.mayElicitICMPError
  fuzzRewrite(packet, bytes)
}

/// Applies every rewrite to a copy of the frame and checks the invariants.
private func fuzzRewrite(_ original: ParsedPacket, _ bytes: UnsafeRawBufferPointer) {
  let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 8)
  defer { copy.deallocate() }
  copy.copyMemory(from: bytes)
  let frame = UnsafeRawBufferPointer(copy)
  let ipValid = original.isIPv4ChecksumValid(in: frame)
  let transportValid = original.isTransportChecksumValid(in: frame)

  var packet = original
  try? packet.setNetworkSource(IPv4Address(rawValue: 0x0A00_0001), in: copy)
  try? packet.setNetworkDestination(IPv4Address(rawValue: 0xC0A8_FF02), in: copy)
  try? packet.setTransportSource(0xBEEF, in: copy)
  try? packet.setTransportDestination(0, in: copy)
  _ = try? packet.decrementTTL(in: copy)
  packet.setEthernetSource(MACAddress(rawValue: 0x0200_0000_0001), in: copy)

  guard let reparsed = try? PacketParser.parse(frame) else {
    fatalError("rewritten frame no longer parses")
  }
  require(reparsed == packet, "rewrite disagrees with re-parse")
  if ipValid == true {
    require(packet.isIPv4ChecksumValid(in: frame) == true, "IPv4 checksum broken by rewrite")
  }
  if transportValid == true {
    require(packet.isTransportChecksumValid(in: frame) == true, "L4 checksum broken by rewrite")
  }

  // Completing checksums must leave a frame that verifies.
  var completed = packet
  completed.recomputeChecksums(in: copy)
  if completed.ipv4 != nil {
    require(completed.isIPv4ChecksumValid(in: frame) == true, "recomputed IPv4 checksum")
  }
  if completed.isTransportChecksumValid(in: frame) == false {
    fatalError("recomputed transport checksum does not verify")
  }
}

private func fuzzDecapsulate(_ bytes: UnsafeRawBufferPointer) {
  if let tunnel = try? VXLANHeader.decapsulate(payload: bytes) {
    checkInner(tunnel, bytes)
  }
  if let tunnel = try? VXLANHeader.decapsulate(frame: bytes) {
    checkInner(tunnel, bytes)
  }
}

private func checkInner(_ tunnel: VXLANPacket, _ bytes: UnsafeRawBufferPointer) {
  require(
    tunnel.innerRange.lowerBound >= 0 && tunnel.innerRange.upperBound <= bytes.count,
    "inner frame outside outer frame")
  let inner = UnsafeRawBufferPointer(rebasing: bytes[tunnel.innerRange])
  if let match = try? FlowMatch(frame: inner, ingressPort: 1, tunnelKey: tunnel.header.vni) {
    require(match.tunnelKey <= VXLANHeader.maximumVNI, "VNI wider than 24 bits")
  }
}

/// Treats the input as a checksummed block, changes one 16-bit and one 32-bit word as the
/// input's first bytes say, and compares RFC 1624 updates with full recomputation.
private func fuzzIncrementalChecksum(_ bytes: UnsafeRawBufferPointer) {
  guard bytes.count >= 12 else { return }
  let block = UnsafeMutableRawBufferPointer.allocate(
    byteCount: bytes.count & ~1, alignment: 8)
  defer { block.deallocate() }
  block.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<block.count]))
  let view = UnsafeRawBufferPointer(block)
  let words = block.count / 2
  var checksum = Checksum.compute(view)

  let index16 = Int(view.readUInt16(at: 0)) % words * 2
  let new16 = view.readUInt16(at: 2)
  let old16 = view.readUInt16(at: index16)
  block.writeUInt16(new16, at: index16)
  checksum = Checksum.update(checksum, old: old16, new: new16)
  requireEquivalent(checksum, Checksum.compute(view), "16-bit incremental update")

  guard words >= 2 else { return }
  let index32 = Int(view.readUInt16(at: 4)) % (words - 1) * 2
  let new32 = view.readUInt32(at: 6)
  let old32 = view.readUInt32(at: index32)
  block.writeUInt32(new32, at: index32)
  checksum = Checksum.update(checksum, old32: old32, new32: new32)
  requireEquivalent(checksum, Checksum.compute(view), "32-bit incremental update")
}

/// 0x0000 and 0xFFFF are the two ones' complement zeros; a block that sums to zero may
/// get either from the two methods.
private func requireEquivalent(_ lhs: UInt16, _ rhs: UInt16, _ what: StaticString) {
  let same = lhs == rhs || (lhs == 0 && rhs == 0xFFFF) || (lhs == 0xFFFF && rhs == 0)
  require(same, what)
}

private func require(_ condition: Bool, _ what: StaticString) {
  if !condition { fatalError("invariant broken: \(what)") }
}
