import Synchronization
import Testing

/// How long a test waits for one event before it fails. Local ZooKeeper delivers a watch
/// event within milliseconds (the suites' slowest wait, a member restart or a session
/// expiry, took under 4 s on the 2-core CI machine under load); the budgets leave a wide
/// margin so a loaded machine is slow, not red, while a lost event still fails in
/// seconds instead of hanging the suite.
public enum WaitBudget {
  /// One event that follows a write, a read or a local change.
  public static let event: Duration = .seconds(20)
  /// One event that follows a server restart, a lost quorum or a session expiry.
  public static let recovery: Duration = .seconds(45)
}

/// An async sequence read one element at a time, each wait bounded: `next()` returns the
/// next element, nil at the end, or throws `WaitTimedOut` (which fails the test, naming
/// what was awaited and where) once the budget passes without one.
///
/// The sequence is iterated by a task of its own into a buffer, so a wait can end
/// without consuming anything; elements that arrive after a timeout stay buffered in
/// order. Dropping the iterator cancels that task, which ends the sequence as dropping
/// its own iterator would.
public final class DeadlineIterator<Element: Sendable>: Sendable {
  private struct State {
    var buffer: [Result<Element?, any Error>] = []
    var waiter: (id: UInt64, continuation: CheckedContinuation<Element?, any Error>)?
    var finished = false
    var nextID: UInt64 = 0
  }

  private let state = Mutex(State())
  private let pump: Mutex<Task<Void, Never>?> = Mutex(nil)
  /// What the test waits for, for the failure message.
  public let label: String
  public let budget: Duration

  public init<S: AsyncSequence & Sendable>(_ sequence: S, label: String, budget: Duration)
  where S.Element == Element {
    self.label = label
    self.budget = budget
    let task = Task { [weak self] in
      do {
        for try await element in sequence {
          guard let self else { return }
          self.deliver(.success(element))
        }
        self?.deliver(.success(nil))
      } catch {
        self?.deliver(.failure(error))
      }
    }
    pump.withLock { $0 = task }
  }

  deinit { pump.withLock { $0?.cancel() } }

  /// The next element, nil once the sequence ended, or `WaitTimedOut` after `budget`
  /// (the iterator's, unless given) with nothing.
  public func next(
    within budget: Duration? = nil, sourceLocation: SourceLocation = #_sourceLocation
  ) async throws -> Element? {
    let budget = budget ?? self.budget
    let id = state.withLock { state in
      state.nextID += 1
      return state.nextID
    }
    let timer = Task { [weak self] in
      try? await Task.sleep(for: budget)
      guard !Task.isCancelled, let self else { return }
      self.expire(
        id, WaitTimedOut(label: self.label, budget: budget, sourceLocation: sourceLocation))
    }
    defer { timer.cancel() }
    return try await withCheckedThrowingContinuation { continuation in
      let ready = state.withLock { state -> Result<Element?, any Error>? in
        if !state.buffer.isEmpty { return state.buffer.removeFirst() }
        if state.finished { return .success(nil) }
        state.waiter = (id, continuation)
        return nil
      }
      if let ready { continuation.resume(with: ready) }
    }
  }

  private func deliver(_ result: Result<Element?, any Error>) {
    let waiter = state.withLock { state -> CheckedContinuation<Element?, any Error>? in
      if case .success(nil) = result { state.finished = true }
      if case .failure = result { state.finished = true }
      guard let waiter = state.waiter else {
        // The end is kept as the finished flag; only elements and errors queue.
        if case .success(nil) = result { return nil }
        state.buffer.append(result)
        return nil
      }
      state.waiter = nil
      return waiter.continuation
    }
    waiter?.resume(with: result)
  }

  private func expire(_ id: UInt64, _ error: WaitTimedOut) {
    let waiter = state.withLock { state -> CheckedContinuation<Element?, any Error>? in
      guard let waiter = state.waiter, waiter.id == id else { return nil }
      state.waiter = nil
      return waiter.continuation
    }
    waiter?.resume(throwing: error)
  }
}

/// A bounded wait in a test ended without the element it waited for.
public struct WaitTimedOut: Error, CustomStringConvertible {
  public enum Code: Sendable { case timedOut }
  public let code: Code = .timedOut
  public let message: String

  public init(label: String, budget: Duration, sourceLocation: SourceLocation) {
    message =
      "no \(label) within \(budget) (waited at \(sourceLocation.fileName):\(sourceLocation.line)): the event never came, or the machine is far slower than the budget allows"
  }

  public var description: String { message }
}

extension AsyncSequence where Self: Sendable, Element: Sendable {
  /// This sequence read with a deadline on every wait (see `DeadlineIterator`).
  /// `label` names what the test waits for ("data states of /x"), for the failure.
  public func withDeadlines(_ label: String, budget: Duration = WaitBudget.event)
    -> DeadlineIterator<Element>
  {
    DeadlineIterator(self, label: label, budget: budget)
  }
}
