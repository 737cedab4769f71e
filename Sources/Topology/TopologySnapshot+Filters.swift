extension TopologySnapshot {
  /// The same topology with every chain's filter back-references (`Chain.bridgeInboundIds`
  /// and the others) derived from the filters its bridges, routers and ports name, in id
  /// order. A topology file or a translation names a filter on the device only; the NSDB
  /// keeps both sides, so a desired snapshot is completed before it is compared with what
  /// is stored. References to chains not in the snapshot are left to `validate()`.
  public func withFilterBackReferences() -> TopologySnapshot {
    var result = self
    for id in result.chains.keys {
      result.chains[id]!.bridgeInboundIds = []
      result.chains[id]!.bridgeOutboundIds = []
      result.chains[id]!.routerInboundIds = []
      result.chains[id]!.routerOutboundIds = []
      result.chains[id]!.routerForwardIds = []
      result.chains[id]!.portInboundIds = []
      result.chains[id]!.portOutboundIds = []
    }
    func add(_ chain: ID?, _ list: WritableKeyPath<Chain, [ID]>, _ user: ID) {
      guard let chain, result.chains[chain] != nil else { return }
      result.chains[chain]![keyPath: list].append(user)
    }
    for bridge in bridges.values.sorted(by: { $0.id < $1.id }) {
      add(bridge.inboundFilterId, \.bridgeInboundIds, bridge.id)
      add(bridge.outboundFilterId, \.bridgeOutboundIds, bridge.id)
    }
    for router in routers.values.sorted(by: { $0.id < $1.id }) {
      add(router.inboundFilterId, \.routerInboundIds, router.id)
      add(router.outboundFilterId, \.routerOutboundIds, router.id)
      add(router.forwardFilterId, \.routerForwardIds, router.id)
    }
    for port in ports.values.sorted(by: { $0.id < $1.id }) {
      add(port.inboundFilterId, \.portInboundIds, port.id)
      add(port.outboundFilterId, \.portOutboundIds, port.id)
    }
    return result
  }
}
