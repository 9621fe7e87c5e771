import Foundation
import XCTest

/// The log file and per-module levels of the real binary, and SIGHUP reopening the file after a
/// rotation with the levels read again.
final class LogFileTests: XCTestCase {
    /// Waits until `path` holds `text` (the relay writes as it acts; bounded to 20 s).
    func waitFor(_ text: String, in path: String) -> String? {
        for _ in 0..<1000 {
            if let log = try? String(contentsOfFile: path, encoding: .utf8), log.contains(text) { return log }
            usleep(20_000)
        }
        return nil
    }

    func testLogFileLevelsByModuleAndReopenOnSIGHUP() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tern-log-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let log = dir + "/tern.log"
        let config = dir + "/tern.toml"
        func writeConfig(levels: String) throws {
            try """
            [server]
            log_file = "\(log)"
            log_levels = "\(levels)"
            """.write(toFile: config, atomically: true, encoding: .utf8)
        }
        try writeConfig(levels: "server=warning")
        let relay = Process()
        relay.executableURL = RelayProcess.binary
        relay.arguments = ["serve", "--listen", "127.0.0.1:0", "--data", dir + "/data", "--config", config]
        relay.environment = RelayProcess.environment()
        let err = Pipe()
        relay.standardError = err
        try relay.run()
        defer {
            if relay.isRunning {
                relay.terminate()
                relay.waitUntilExit()
            }
        }

        let first = try XCTUnwrap(waitFor("msg=started", in: log), "the log goes to the file")
        XCTAssertFalse(first.contains("msg=listening"), "the server module logs warnings only: \(first)")

        // logrotate moves the file away; SIGHUP makes the relay open a new one, with new levels.
        try writeConfig(levels: "server=info")
        try FileManager.default.moveItem(atPath: log, toPath: log + ".1")
        kill(relay.processIdentifier, SIGHUP)
        XCTAssertNotNil(waitFor("policy reloaded", in: log), "a new file after SIGHUP")
        relay.terminate()
        relay.waitUntilExit()
        let second = try String(contentsOfFile: log, encoding: .utf8)
        XCTAssertTrue(second.contains("msg=\"shutting down\""), "the server module now logs at info: \(second)")
        let rotated = try String(contentsOfFile: log + ".1", encoding: .utf8)
        XCTAssertFalse(rotated.contains("policy reloaded"), "nothing more goes to the rotated file")
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertFalse(stderr.contains("msg="), "nothing on standard error: \(stderr)")
    }

    func testBadModuleLevelsAreRefused() throws {
        let process = Process()
        process.executableURL = RelayProcess.binary
        process.arguments = ["serve", "--listen", "127.0.0.1:0", "--data", "/tmp/unused-tern-data"]
        process.environment = RelayProcess.environment(["TERN_SERVER_LOG_LEVELS": "store=loud"])
        let err = Pipe()
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertNotEqual(process.terminationStatus, 0)
        XCTAssertTrue(text.contains("server.log_levels"), text)
    }
}
