/// Where executed actions send packets: the packet loop's transmit batches, or a
/// recorder in tests. The frame is only valid during the call; implementations copy it.
public protocol PacketOutput {
  /// Sends `frame` out of local port `port`, with its offload state.
  mutating func output(port: UInt32, frame: UnsafeRawBufferPointer, offload: VirtioNetHeader)
  /// Sends `frame` through the tunnel to `remote` with key `tunnelKey`.
  mutating func encapsulate(
    tunnelKey: UInt32, remote: TunnelEndpoint, frame: UnsafeRawBufferPointer,
    offload: VirtioNetHeader)
}
