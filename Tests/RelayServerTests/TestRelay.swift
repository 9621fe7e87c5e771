import EventStorage
import Foundation
import Logging
import NIOCore
import NIOPosix
import NostrCore
import NostrStore
import RelayCore
import RelayServer
import XCTest

/// The real relay on an ephemeral loopback port with a fresh data directory.
final class TestRelay: @unchecked Sendable {
    let path: String
    let server: RelayServer
    let port: Int
    let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var stopped = false

    init(
        limits: Limits = Limits(), policy: Policy = Policy(), info: RelayInfo = RelayInfo(), path: String? = nil,
        maxScanPerFilter: Int = StoreOptions().maxScanPerFilter,
        compression: CompressionSettings = CompressionSettings()
    ) throws {
        self.path =
            path ?? FileManager.default.temporaryDirectory.appendingPathComponent("tern-e2e-\(UUID().uuidString)").path
        var logger = Logger(label: "tern-test")
        logger.logLevel = .warning
        let clock: UnixClock = { Int64(Date().timeIntervalSince1970) }
        let store = try EventStore(
            path: self.path,
            options: StoreOptions(mapSize: 256 << 20, maxScanPerFilter: maxScanPerFilter, log: LogOptions()),
            logger: logger)
        let relay = Relay(info: info, limits: limits, policy: policy, storage: store, clock: clock, logger: logger)
        relay.start()
        server = RelayServer(relay: relay, threads: 2, compression: compression)
        port = try server.start(host: "127.0.0.1", port: 0)
    }

    func connect(path: String = "/", receiveBuffer: Int? = nil) async throws -> TestClient {
        try await TestClient.connect(port: port, group: clientGroup, path: path, receiveBuffer: receiveBuffer)
    }

    /// Connects and consumes the AUTH challenge the relay sends first; returns it too.
    func connectReady(receiveBuffer: Int? = nil) async throws -> (TestClient, String) {
        let client = try await connect(receiveBuffer: receiveBuffer)
        let first = try await client.nextMessage()
        XCTAssertEqual(first.first as? String, "AUTH")
        return (client, first[1] as! String)
    }

    func stop(removeData: Bool = true) {
        guard !stopped else { return }
        stopped = true
        server.shutdown()
        if removeData { try? FileManager.default.removeItem(atPath: path) }
    }

    deinit {
        stop()
        try? clientGroup.syncShutdownGracefully()
    }
}

extension Event {
    var message: String { #"["EVENT",\#(json)]"# }
}

var now: Int64 { Int64(Date().timeIntervalSince1970) }
