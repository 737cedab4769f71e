import Addresses

// Writes the seed corpus for the Packets fuzzer: one small valid frame per protocol the
// parser knows. Run by `Fuzz/run.sh --make-corpus`; the output is committed in
// Fuzz/corpus/packets, so this only needs re-running when the seeds should change.

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : "Fuzz/corpus/packets"

let macA = MACAddress(0x02, 0, 0, 0, 0, 0x0A)
let macB = MACAddress(0x02, 0, 0, 0, 0, 0x0B)
let ipA = IPv4Address(10, 0, 0, 1)
let ipB = IPv4Address(10, 0, 0, 2)
let link = EthernetHeader(destination: macB, source: macA)
let ip = IPv4Header(source: ipA, destination: ipB)

var seeds: [(String, [UInt8])] = []
seeds.append(
  ("arp-request", PacketBuilder.arpRequest(senderMAC: macA, senderIP: ipA, targetIP: ipB)))
seeds.append(
  (
    "arp-reply-vlan",
    PacketBuilder.arpReply(
      senderMAC: macB, senderIP: ipB, targetMAC: macA, targetIP: ipA, vlan: VLANTag(id: 10))
  ))
seeds.append(
  (
    "udp",
    try PacketBuilder.udp(
      ethernet: link, ipv4: ip, sourcePort: 5353, destinationPort: 53, payload: [1, 2, 3, 4])
  ))
seeds.append(
  (
    "tcp-syn-options",
    try PacketBuilder.tcp(
      ethernet: link, ipv4: ip,
      tcp: TCPHeader(sourcePort: 40_000, destinationPort: 80, sequenceNumber: 1000, flags: .syn),
      tcpOptions: [2, 4, 0x05, 0xB4])
  ))
let echo = try PacketBuilder.icmp(
  ethernet: link, ipv4: ip, icmp: .echo(identifier: 7, sequenceNumber: 1), payload: [0xAB, 0xCD])
seeds.append(("icmp-echo", echo))
seeds.append(
  (
    "icmp-unreachable",
    try PacketBuilder.icmpError(
      type: .destinationUnreachable, code: ICMPCode.Unreachable.port, quoting: seeds[2].1,
      ethernetSource: macB, networkSource: ipB)
  ))
seeds.append(
  (
    "ipv4-options-first-fragment",
    try PacketBuilder.udp(
      ethernet: link,
      ipv4: IPv4Header(source: ipA, destination: ipB, identification: 9, moreFragments: true),
      sourcePort: 1, destinationPort: 2, payload: [UInt8](repeating: 0x55, count: 8),
      options: [0x94, 0x04, 0, 0])
  ))
seeds.append(
  (
    "ipv4-later-fragment",
    try PacketBuilder.ipv4(
      ethernet: link,
      ipv4: IPv4Header(
        source: ipA, destination: ipB, ipProtocol: .udp, identification: 9, fragmentOffset: 2),
      payload: [UInt8](repeating: 0x66, count: 8))
  ))
var qinq = PacketBuilder.arpRequest(senderMAC: macA, senderIP: ipA, targetIP: ipB)
qinq.replaceSubrange(12..<12, with: [0x88, 0xA8, 0x00, 0x64, 0x81, 0x00, 0x00, 0x0A])
seeds.append(("qinq-arp", qinq))
seeds.append(
  (
    "vxlan",
    try PacketBuilder.vxlan(
      ethernet: link, ipv4: ip, sourcePort: 50_000, vni: 0x1234,
      inner: try PacketBuilder.tcp(
        ethernet: link, ipv4: ip, tcp: TCPHeader(sourcePort: 1, destinationPort: 2, flags: .ack)))
  ))

for (name, bytes) in seeds {
  let path = directory + "/" + name + ".bin"
  guard let file = fopen(path, "wb") else { fatalError("cannot open \(path)") }
  _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
  fclose(file)
  print("\(path): \(bytes.count) bytes")
}
