import Foundation
import NIOPosix
import NostrCore
import NostrTools
import XCTest

/// Runs the real `tern` executable, as an operator would.
final class ServeCommandTests: XCTestCase {
    var binary: URL { RelayProcess.binary }

    func temporaryDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tern-cli-\(UUID().uuidString)").path
    }

    /// Runs tern to completion and returns its exit code and standard error.
    func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (Int32, String) {
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: binary.path), "tern is built next to the tests")
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        process.environment = RelayProcess.environment(environment)
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func testHelpExplainsEveryOption() throws {
        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--help"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        for option in ["--listen", "--data", "--config", "TERN_LIMITS_MAX_SUBSCRIPTIONS", "limits.max_message_length"] {
            XCTAssertTrue(text.contains(option), "help mentions \(option)")
        }
    }

    func testInvalidValuesGiveAClearMessageAndNonZeroExit() throws {
        let (code1, err1) = try run(["serve", "--listen", "nowhere"])
        XCTAssertNotEqual(code1, 0)
        XCTAssertTrue(err1.contains("invalid value for server.listen: \"nowhere\""), err1)

        let (code2, err2) = try run(
            ["serve", "--data", temporaryDirectory()], environment: ["TERN_LIMITS_MAX_SUBSCRIPTIONS": "lots"])
        XCTAssertNotEqual(code2, 0)
        XCTAssertTrue(err2.contains("invalid value for limits.max_subscriptions: \"lots\""), err2)

        let (code3, err3) = try run(["serve"], environment: ["TERN_LIMITS_MAX_SUBSCRIPTION": "5"])
        XCTAssertNotEqual(code3, 0)
        XCTAssertTrue(err3.contains("unknown setting TERN_LIMITS_MAX_SUBSCRIPTION"), err3)

        let config = temporaryDirectory() + ".toml"
        try "[limits]\nmax_filters = 0\n".write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }
        let (code4, err4) = try run(["serve", "--config", config])
        XCTAssertNotEqual(code4, 0)
        XCTAssertTrue(err4.contains("invalid value for limits.max_filters: \"0\""), err4)

        let (code5, err5) = try run(["serve", "--config", "/nonexistent/tern.toml"])
        XCTAssertNotEqual(code5, 0)
        XCTAssertTrue(err5.contains("cannot read configuration file /nonexistent/tern.toml"), err5)

        let (code6, err6) = try run(["serve", "--store", "mysql://nowhere"])
        XCTAssertNotEqual(code6, 0)
        XCTAssertTrue(err6.contains("invalid value for store.url"), err6)

        // Port 1 on loopback: nothing listens there.
        let (code7, err7) = try run(["serve", "--store", "postgres://tern@127.0.0.1:1/tern"])
        XCTAssertNotEqual(code7, 0)
        #if Postgres
            XCTAssertTrue(err7.contains("cannot open store") && err7.contains("Connection refused"), err7)
        #else
            XCTAssertTrue(err7.contains("this tern was built without PostgreSQL support"), err7)
        #endif
    }

    func testServesThenStopsGracefullyOnSIGTERM() async throws {
        let data = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let config = data + ".toml"
        try """
        [relay]
        name = "from the file"
        [limits]
        max_subscriptions = 3
        max_limit = 42
        """.write(toFile: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: config) }

        let process = Process()
        process.executableURL = binary
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data", data, "--config", config]
        // The environment overrides the file.
        process.environment = RelayProcess.environment(["TERN_LIMITS_MAX_LIMIT": "77"])
        let err = Pipe()
        process.standardError = err
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // Read the log until the relay says where it listens.
        var log = ""
        var port = 0
        while port == 0 {
            let chunk = err.fileHandleForReading.availableData
            XCTAssertFalse(chunk.isEmpty, "tern exited early: \(log)")
            if chunk.isEmpty { return }
            log += String(decoding: chunk, as: UTF8.self)
            if let range = log.range(of: #"address=127\.0\.0\.1:(\d+)"#, options: .regularExpression) {
                port = Int(log[range].split(separator: ":").last!)!
            }
        }

        let group = TestRelayGroup.shared
        let info = try await httpGet(port: port, path: "/", headers: ["Accept": "application/nostr+json"], group: group)
        let doc = try XCTUnwrap(JSON.parse(info.body) as? [String: Any])
        XCTAssertEqual(doc["name"] as? String, "from the file")
        let limitation = try XCTUnwrap(doc["limitation"] as? [String: Any])
        XCTAssertEqual(limitation["max_subscriptions"] as? Int, 3)
        XCTAssertEqual(limitation["max_limit"] as? Int, 77)

        let client = try await TestClient.connect(port: port, group: group)
        _ = try await client.nextMessage()  // AUTH challenge
        let event = Signer(seed: 401).event(kind: 1, content: "before shutdown", createdAt: now)
        client.send(event.message)
        let ok = try await client.nextMessage()
        XCTAssertEqual(ok[2] as? Bool, true)

        process.terminate()  // SIGTERM
        let closing = try await client.next()
        XCTAssertEqual(closing, .close(1001), "connections get a close frame")
        let rest = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        log += String(decoding: rest, as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, log)
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertTrue(log.contains("msg=stopped"), log)
        XCTAssertTrue(log.contains("level=info"), "structured log lines")
    }
}

enum TestRelayGroup {
    static let shared = MultiThreadedEventLoopGroup(numberOfThreads: 1)
}
