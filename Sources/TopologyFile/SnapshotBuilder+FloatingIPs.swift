import Addresses
import Topology

extension SnapshotBuilder {
  /// The generated pre-routing chain of a router with floating IPs.
  static func preChainName(_ router: String) -> String { router + "-fip-pre" }
  /// The generated post-routing chain of a router with floating IPs.
  static func postChainName(_ router: String) -> String { router + "-fip-post" }

  /// Floating IPs as MidoNet makes them: a static DNAT of the external
  /// address to the internal one in the router's pre-routing chain and a
  /// static SNAT of the internal address to the external one in its
  /// post-routing chain (both keep ports). `port` limits them to the uplink.
  /// The chains are generated (`<router>-fip-pre`/`-post`); a router's own
  /// inbound/outbound filter is then reached by a jump at their end.
  func readFloatingIPs(_ items: [Field], router: ID, routerName: String, in field: Field) {
    guard !items.isEmpty else { return }
    let preName = Self.preChainName(routerName)
    let postName = Self.postChainName(routerName)
    guard let preID = declare(.chain, preName, field), let postID = declare(.chain, postName, field)
    else { return }
    var pre = Chain(id: preID, name: preName)
    var post = Chain(id: postID, name: postName)
    var externals = Set<IPv4Address>()
    for (index, item) in items.enumerated() {
      let f = reader.mapping(item, allowed: ["external", "internal", "port"])
      guard let external = reader.address(f["external"]), let fixed = reader.address(f["internal"])
      else {
        if f["external"] == nil || f["internal"] == nil {
          reader.fail(item, item.path, "a floating IP needs 'external' and 'internal' addresses")
        }
        continue
      }
      if !externals.insert(external).inserted {
        reader.fail(
          f["external"], "\(item.path).external", "\(external) is used by two floating IPs")
      }
      let uplink = reference(.port, f["port"])
      let dnatID = ID(name: "Rule/\(preName)/\(index)")
      snapshot.rules[dnatID] = Rule(
        id: dnatID, chainId: preID,
        condition: Condition(inPortIds: uplink.map { [$0] } ?? [], nwDst: .host(external)),
        action: .dnat(targets: [NatTarget(address: fixed)]))
      pre.ruleIds.append(dnatID)
      let snatID = ID(name: "Rule/\(postName)/\(index)")
      snapshot.rules[snatID] = Rule(
        id: snatID, chainId: postID,
        condition: Condition(outPortIds: uplink.map { [$0] } ?? [], nwSrc: .host(fixed)),
        action: .snat(targets: [NatTarget(address: external)]))
      post.ruleIds.append(snatID)
    }
    for (chain, keyPath) in [(preID, \Router.inboundFilterId), (postID, \Router.outboundFilterId)] {
      if let own = snapshot.routers[router]?[keyPath: keyPath] {
        let jumpID = ID(name: "Rule/\(chain == preID ? preName : postName)/jump")
        snapshot.rules[jumpID] = Rule(id: jumpID, chainId: chain, action: .jump(chainId: own))
        if chain == preID { pre.ruleIds.append(jumpID) } else { post.ruleIds.append(jumpID) }
      }
      snapshot.routers[router]?[keyPath: keyPath] = chain
    }
    snapshot.chains[preID] = pre
    snapshot.chains[postID] = post
  }
}
