import Testing

@testable import ZooKeeper

@Suite("Return-code mapping")
struct ErrorMappingTests {
  /// Every code the C library defines (zookeeper.h, enum ZOO_ERRORS).
  static let codes: [Int32] = [
    -1, -2, -3, -4, -5, -6, -7, -8, -9, -13, -14, -15, -100, -101, -102, -103, -108, -110,
    -111, -112, -113, -114, -115, -116, -117, -118, -119, -120, -121, -123, -124, -127,
  ]

  @Test("every return code has its own typed error and a message")
  func everyCodeMapped() {
    for rc in Self.codes {
      let error = ZooKeeperError(returnCode: rc, path: "/p", isWrite: false)
      #expect(!error.message.isEmpty)
      #expect(error.returnCode == rc)
      if rc != -117 {
        #expect(error.code != .unknown(rc), "rc \(rc) is not mapped")
      }
      #expect(error.description.contains("/p"))
    }
    #expect(ZooKeeperError(returnCode: -999, path: nil, isWrite: false).code == .unknown(-999))
  }

  @Test("connection loss during a write is 'outcome unknown', during a read it is not")
  func connectionLossOnWrite() {
    #expect(ZooKeeperError(returnCode: -4, path: nil, isWrite: true).code == .outcomeUnknown)
    #expect(ZooKeeperError(returnCode: -7, path: nil, isWrite: true).code == .outcomeUnknown)
    #expect(ZooKeeperError(returnCode: -4, path: nil, isWrite: false).code == .connectionLoss)
    #expect(ZooKeeperError(returnCode: -4, path: nil, isWrite: false).isTransient)
    #expect(!ZooKeeperError(returnCode: -101, path: nil, isWrite: false).isTransient)
  }

  @Test("a bad connect string is refused with a clear error")
  func badConnectString() {
    #expect(throws: ZooKeeperError.self) {
      _ = try ZooKeeperClient(connectString: "")
    }
  }
}

@Suite("Watch ordering")
struct WatchOrderingTests {
  @Test("a watch delivers newer states only: by incarnation, then by change")
  func ordering() {
    #expect(ZooKeeperClient.isNewer(nil, than: .none))
    #expect(ZooKeeperClient.isNewer((5, 9), than: .none))
    #expect(!ZooKeeperClient.isNewer(nil, than: .some(nil)))
    #expect(ZooKeeperClient.isNewer((5, 9), than: .some(nil)))
    #expect(ZooKeeperClient.isNewer(nil, than: .some((5, 9))))
    #expect(ZooKeeperClient.isNewer((5, 10), than: .some((5, 9))))
    #expect(!ZooKeeperClient.isNewer((5, 9), than: .some((5, 9))))
    #expect(!ZooKeeperClient.isNewer((5, 8), than: .some((5, 9))))
    #expect(ZooKeeperClient.isNewer((7, 7), than: .some((5, 9))))
    #expect(!ZooKeeperClient.isNewer((4, 20), than: .some((5, 9))))
  }
}
