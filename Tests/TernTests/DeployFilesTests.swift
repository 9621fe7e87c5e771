import Foundation
import XCTest

@testable import tern

/// What `make install` puts on a machine: the example configuration reads as tern reads it, and
/// systemd accepts the unit.
final class DeployFilesTests: XCTestCase {
    var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    func testExampleConfigurationIsValid() throws {
        var configuration = Configuration()
        try configuration.apply(tomlFile: repository.appendingPathComponent("deploy/tern.toml").path)
        XCTAssertEqual(configuration.dataDirectory, "/var/lib/tern", "the unit's StateDirectory")
        XCTAssertEqual(configuration.host, "127.0.0.1")
        XCTAssertEqual(configuration.metricsListen?.port, 9477)
        XCTAssertEqual(configuration.policy.mode.rawValue, "open")
    }

    func testSystemdAcceptsTheUnit() throws {
        let analyze = "/usr/bin/systemd-analyze"
        XCTAssertTrue(
            FileManager.default.isExecutableFile(atPath: analyze),
            "systemd is installed by `make test` (TEST_APT_PACKAGES)")
        // The unit names the installed binary; point it at this build's for the check.
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent("tern").path
        let unit = try String(contentsOf: repository.appendingPathComponent("deploy/tern.service"), encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/tern", with: binary)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("tern-\(UUID().uuidString).service")
        try unit.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: analyze)
        process.arguments = ["verify", file.path]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, text)
        XCTAssertEqual(text, "", "systemd-analyze has nothing to say about the unit")
    }
}
