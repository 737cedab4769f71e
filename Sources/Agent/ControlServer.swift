import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

/// The HTTP server of the agent's control API and metrics, on SwiftNIO.
///
/// The control API is how an operator and a Prometheus scraper look into a running
/// agent, so it must stay available however its clients behave: a client that trickles
/// bytes, a thousand idle connections, or garbage must never hold up `/health`, and
/// nothing a client sends may crash the agent. Hence:
/// - requests are served concurrently, on one event loop thread of the server's own;
/// - a connection carries one request (`Connection: close`), which must arrive whole
///   within ``Limits/requestTimeout`` and within ``Limits/maxRequestBytes`` (head and
///   body together), or the connection is answered 408 or 431 and closed;
/// - at most ``Limits/maxConnections`` connections are open: one more closes the oldest
///   connection whose request has not arrived yet, so a flood of idle connections
///   cannot lock an operator out;
/// - only `GET` is served; HTTP parsing is NIO's, the query parsing
///   (``ControlRequest/init(target:)``) cannot fail.
public final class ControlServer: Sendable {
  /// What bounds the server's resources.
  public struct Limits: Sendable, Hashable {
    /// Open connections at most (each costs a file descriptor and a few KiB).
    public var maxConnections = 512
    /// Bytes a request may have, its head and any body together.
    public var maxRequestBytes = 16 * 1024
    /// How long a connection may take to deliver its whole request.
    public var requestTimeout: TimeAmount = .seconds(5)

    public init() {}
  }

  /// The address and port the server listens on (`127.0.0.1:7780`).
  public let address: String
  public let port: UInt16
  private let channel: any Channel
  private let group: MultiThreadedEventLoopGroup

  private init(
    address: String, port: UInt16, channel: any Channel, group: MultiThreadedEventLoopGroup
  ) {
    self.address = address
    self.port = port
    self.channel = channel
    self.group = group
  }

  /// Listens on `address` (ADDRESS:PORT; port 0 picks one) and serves `handler`.
  public static func start(
    address: String, limits: Limits = Limits(), logger: Logger,
    handler: @escaping @Sendable (ControlRequest) async -> ControlResponse
  ) async throws(AgentError) -> ControlServer {
    guard let (ip, port) = AgentConfiguration.hostPort(address) else {
      throw AgentError(.control, "'\(address)' is not ADDRESS:PORT")
    }
    let host = AgentConfiguration.dottedQuad(ip)
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let tracker = ConnectionTracker(limit: limits.maxConnections)
    let bootstrap = ServerBootstrap(group: group)
      .serverChannelOption(.backlog, value: 256)
      .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
      .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
          let operations = channel.pipeline.syncOperations
          try operations.configureHTTPServerPipeline(withPipeliningAssistance: false)
          try operations.addHandler(
            RequestSizeLimit(limit: limits.maxRequestBytes), position: .first)
          try operations.addHandler(
            ControlHTTPHandler(
              handler: handler, timeout: limits.requestTimeout, tracker: tracker))
          tracker.opened(channel)
        }
      }
    let channel: any Channel
    do {
      channel = try await bootstrap.bind(host: host, port: Int(port)).get()
    } catch {
      try? await group.shutdownGracefully()
      throw AgentError(.control, "cannot listen on \(address)", cause: AgentError.Described(error))
    }
    let actual = UInt16(channel.localAddress?.port ?? Int(port))
    let server = ControlServer(
      address: "\(host):\(actual)", port: actual, channel: channel, group: group)
    logger.info("control API listening", metadata: ["agent.control": "\(server.address)"])
    return server
  }

  /// Stops accepting and closes every connection; the event loop thread ends.
  public func stop() async {
    try? await channel.close()
    try? await group.shutdownGracefully()
  }
}

/// Open connections in the order they came, and whether each has delivered its request.
/// Confined to the server's one event loop thread (every channel of a server shares it).
final class ConnectionTracker: @unchecked Sendable {
  private let limit: Int
  private var next: UInt64 = 0
  private var waiting: [ObjectIdentifier: (order: UInt64, channel: any Channel)] = [:]
  private var open = 0

  init(limit: Int) { self.limit = limit }

  /// A connection was accepted; past the limit, the oldest one still waiting for its
  /// request is closed to make room.
  func opened(_ channel: any Channel) {
    channel.eventLoop.assertInEventLoop()
    open += 1
    next += 1
    let key = ObjectIdentifier(channel)
    waiting[key] = (next, channel)
    channel.closeFuture.assumeIsolated().whenComplete { _ in
      self.open -= 1
      self.waiting[key] = nil
    }
    guard open > limit,
      let oldest = waiting.min(by: { $0.value.order < $1.value.order })
    else { return }
    waiting[oldest.key] = nil
    oldest.value.channel.close(promise: nil)
  }

  /// The connection's request has arrived: it is being answered and is not evicted.
  func served(_ channel: any Channel) {
    waiting[ObjectIdentifier(channel)] = nil
  }
}

/// Closes a connection that sends more than `limit` bytes, answering 431 first. It sits
/// in front of the HTTP decoder, so it bounds the head (which NIO would accept up to
/// 80 KiB) and the body alike.
final class RequestSizeLimit: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundOut = ByteBuffer

  private let limit: Int
  private var received = 0
  private var tripped = false

  init(limit: Int) { self.limit = limit }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    guard !tripped else { return }
    let buffer = unwrapInboundIn(data)
    received += buffer.readableBytes
    guard received <= limit else {
      tripped = true
      let body = "request larger than \(limit) bytes\n"
      let text =
        "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
        + "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n\(body)"
      let context = NIOLoopBound(context, eventLoop: context.eventLoop)
      context.value.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).whenComplete { _ in
        context.value.close(promise: nil)
      }
      return
    }
    context.fireChannelRead(data)
  }
}

/// Serves one request per connection: waits for it whole (within the deadline), runs
/// the handler as a task, writes the answer and closes.
final class ControlHTTPHandler: ChannelInboundHandler {
  typealias InboundIn = HTTPServerRequestPart
  typealias OutboundOut = HTTPServerResponsePart

  private let handler: @Sendable (ControlRequest) async -> ControlResponse
  private let timeout: TimeAmount
  private let tracker: ConnectionTracker
  private var head: HTTPRequestHead?
  private var deadline: Scheduled<Void>?
  private var answered = false

  init(
    handler: @escaping @Sendable (ControlRequest) async -> ControlResponse, timeout: TimeAmount,
    tracker: ConnectionTracker
  ) {
    self.handler = handler
    self.timeout = timeout
    self.tracker = tracker
  }

  func handlerAdded(context: ChannelHandlerContext) {
    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
    deadline = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
      guard !answered else { return }
      respond(
        bound.value,
        ControlResponse(
          status: 408, contentType: "text/plain", body: "the request did not arrive in time\n"))
    }
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    deadline?.cancel()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    switch unwrapInboundIn(data) {
    case .head(let head): self.head = head
    case .body: break  // bounded by RequestSizeLimit; a GET has no use for it
    case .end:
      guard let head, !answered else { return }
      deadline?.cancel()
      tracker.served(context.channel)
      guard head.method == .GET else {
        respond(
          context,
          ControlResponse(status: 405, contentType: "text/plain", body: "only GET is served\n"))
        return
      }
      let request = ControlRequest(target: head.uri)
      let handler = handler
      let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
      context.eventLoop.makeFutureWithTask { await handler(request) }.whenSuccess { response in
        let (this, context) = bound.value
        this.respond(context, response)
      }
    }
  }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    context.close(promise: nil)
  }

  /// Writes `response` and closes the connection.
  private func respond(_ context: ChannelHandlerContext, _ response: ControlResponse) {
    guard !answered else { return }
    answered = true
    var headers = HTTPHeaders()
    headers.add(name: "Content-Type", value: response.contentType)
    headers.add(name: "Content-Length", value: "\(response.body.utf8.count)")
    headers.add(name: "Connection", value: "close")
    let head = HTTPResponseHead(
      version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
    context.write(wrapOutboundOut(.head(head)), promise: nil)
    context.write(
      wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: response.body)))), promise: nil)
    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
    context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in
      bound.value.close(promise: nil)
    }
  }
}
