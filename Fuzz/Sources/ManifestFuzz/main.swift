// libFuzzer harness for Kubernetes manifests (`midgectl k8s apply -f`, and the watcher's
// objects): `ManifestParser.parse` reads any YAML, `K8sTranslator` turns what parsed into
// a topology.
//
// Invariants, besides "never traps", for manifests that translate:
//  - translating again with the tunnel keys the ports got gives the same translation (a
//    re-apply changes nothing);
//  - pruning the translation's own snapshot gives that snapshot back (a `--prune`
//    re-apply deletes nothing).
import FuzzSupport
import Kubernetes
import Topology

runFuzzer { bytes in
  guard let manifests = try? ManifestParser.parse(text(bytes)) else { return }
  guard let translation = try? K8sTranslator().translate(manifests) else { return }
  let keys = translation.snapshot.ports.mapValues(\.tunnelKey)
  do {
    let again = try K8sTranslator(existingTunnelKeys: keys).translate(manifests)
    require(again == translation, "translating with the ports' own tunnel keys differs")
  } catch {
    fatalError("translating with the ports' own tunnel keys fails: \(error)")
  }
  let pruned = translation.desired(pruning: translation.snapshot)
  require(pruned == translation.snapshot, "pruning a translation's own snapshot changes it")
}
