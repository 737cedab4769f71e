import MidgeTestSupport
import Synchronization
import Testing
import Topology
import ZooKeeper

@testable import NSDB

/// What the consumer of an `observeAll` stream has seen so far.
private final class Seen: Sendable {
  let ready = Atomic<Bool>(false)
  let recreated = Atomic<Bool>(false)
}

@Suite("observeAll and objects re-created under the same id")
struct ObserveRecreateTests {
  @Test("an object deleted and re-created in one step is delivered again")
  func recreatedInOneMulti() async throws {
    let f = try await NSDBFixture.make("recreate")
    let store = f.store
    let id = ID.named("phoenix")
    try await store.create(Bridge(id: id, name: "first"))
    let seen = Seen()
    let stream = store.observeAll(Bridge.self)
    let consumer = Task {
      for try await event in stream {
        switch event {
        case .ready: seen.ready.store(true, ordering: .relaxed)
        case .updated(let bridge) where bridge.id == id && bridge.name == "again":
          seen.recreated.store(true, ordering: .relaxed)
        default: break
        }
      }
    }
    defer { consumer.cancel() }
    #expect(await eventually(timeout: .seconds(5)) { seen.ready.load(ordering: .relaxed) })
    // Delete and create the znode atomically: the type's children listing never changes,
    // so only the object's own watch can notice.
    let path = store.paths.object(.bridge, id)
    _ = try await f.client.multi([
      .delete(path), .create(path, data: try ModelCodec.encode(Bridge(id: id, name: "again"))),
    ])
    let delivered = await eventually(timeout: .seconds(5)) {
      seen.recreated.load(ordering: .relaxed)
    }
    #expect(delivered, "the re-created object was never delivered")
    await f.close()
  }
}
