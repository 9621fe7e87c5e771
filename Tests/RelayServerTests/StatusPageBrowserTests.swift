import Foundation
import NostrCore
import NostrTools
import XCTest

/// The status page in a real browser: Debian's headless Chromium, driven over the DevTools
/// protocol (a WebSocket, spoken with the tests' own client), against the real `tern` binary.
final class StatusPageBrowserTests: XCTestCase {
    /// A DevTools session with one page: commands by id, and the page's errors as they come.
    final class DevTools {
        let client: TestClient
        private var nextID = 0
        private(set) var errors: [String] = []

        init(client: TestClient) {
            self.client = client
        }

        /// Sends a command and returns its result, noting the error events that arrive meanwhile.
        func call(_ method: String, _ params: [String: Any] = [:], seconds: Int64 = 30) async throws -> [String: Any] {
            nextID += 1
            let id = nextID
            let body = try JSONSerialization.data(withJSONObject: ["id": id, "method": method, "params": params])
            client.send(String(decoding: body, as: UTF8.self))
            while true {
                guard case .text(let text) = try await client.next(seconds: seconds),
                    let message = JSON.parse(text) as? [String: Any]
                else { continue }
                note(message)
                if message["id"] as? Int == id {
                    if let error = message["error"] { throw DevToolsError(description: "\(method): \(error)") }
                    return message["result"] as? [String: Any] ?? [:]
                }
            }
        }

        /// Runs `expression` in the page (awaiting it if it is a promise) and returns its value.
        func evaluate(_ expression: String) async throws -> Any? {
            let result = try await call(
                "Runtime.evaluate", ["expression": expression, "awaitPromise": true, "returnByValue": true])
            if let exception = result["exceptionDetails"] { throw DevToolsError(description: "\(exception)") }
            return (result["result"] as? [String: Any])?["value"]
        }

        /// Waits for an event named `method`.
        func event(_ method: String) async throws {
            while true {
                guard case .text(let text) = try await client.next(seconds: 30),
                    let message = JSON.parse(text) as? [String: Any]
                else { continue }
                note(message)
                if message["method"] as? String == method { return }
            }
        }

        private func note(_ message: [String: Any]) {
            let params = message["params"] as? [String: Any] ?? [:]
            switch message["method"] as? String {
            case "Runtime.exceptionThrown":
                errors.append("exception: \(params["exceptionDetails"] ?? "")")
            case "Runtime.consoleAPICalled" where params["type"] as? String == "error":
                errors.append("console.error: \(params["args"] ?? "")")
            case "Log.entryAdded":
                let entry = params["entry"] as? [String: Any] ?? [:]
                if entry["level"] as? String == "error" {
                    errors.append("log: \(entry["text"] ?? "") \(entry["url"] ?? "")")
                }
            default:
                break
            }
        }
    }

    struct DevToolsError: Error, CustomStringConvertible {
        let description: String
    }

    /// Starts headless Chromium on `url`; returns the process and the DevTools port it listens on
    /// (read from the line it prints when ready).
    func startChromium(url: String, profile: String) throws -> (Process, Int) {
        let chromium = try XCTUnwrap(
            ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            },
            "Debian's chromium package is installed by `make test`")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: chromium)
        process.arguments = [
            "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
            "--disable-extensions", "--disable-background-networking", "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0", "--user-data-dir=\(profile)", "--window-size=1000,900", url,
        ]
        let err = Pipe()
        process.standardError = err
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var log = ""
        while true {
            let chunk = err.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw DevToolsError(description: "chromium exited: \(log)") }
            log += String(decoding: chunk, as: UTF8.self)
            if let range = log.range(
                of: #"DevTools listening on ws://127\.0\.0\.1:(\d+)/"#, options: .regularExpression)
            {
                let port = Int(log[range].split(separator: ":").last!.dropLast())!
                // Keep draining its log so that it never blocks on a full pipe.
                err.fileHandleForReading.readabilityHandler = { _ = $0.availableData }
                return (process, port)
            }
        }
    }

    func testStatusPageRendersAndFollowsTheRelayLive() async throws {
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("tern-page-\(UUID().uuidString)").path
        let profile = data + "-chromium"
        defer {
            try? FileManager.default.removeItem(atPath: data)
            try? FileManager.default.removeItem(atPath: profile)
        }
        let relay = try RelayProcess(
            data: data,
            environment: ["TERN_RELAY_NAME": "Browser Test Relay", "TERN_RELAY_DESCRIPTION": "Watched live"])
        defer { relay.kill(SIGTERM) }
        let group = TestRelayGroup.shared

        // The page itself: small, self-contained, and readable without JavaScript.
        let page = try await httpGet(port: relay.port, path: "/", group: group)
        XCTAssertEqual(page.status, 200)
        XCTAssertLessThan(page.body.utf8.count, 50_000, "the page stays under 50 KB")
        XCTAssertTrue(page.body.contains("<h1>Browser Test Relay</h1>"))
        XCTAssertTrue(page.body.contains("01, 09, 11, 13, 40, 42, 45, 50, 62, 70, 77, 86"))
        XCTAssertTrue(page.body.contains(#"<b id="events">0</b>"#), "figures are in the HTML itself")
        for external in ["src=\"http", "href=\"http", "@import", "url(", "<link rel=\"stylesheet"] {
            XCTAssertFalse(page.body.contains(external), "no external resource: \(external)")
        }

        let url = "http://127.0.0.1:\(relay.port)/"
        let (chromium, devtoolsPort) = try startChromium(url: url, profile: profile)
        defer {
            chromium.terminate()
            chromium.waitUntilExit()
        }
        let targets = try await httpGet(port: devtoolsPort, path: "/json/list", group: group)
        let list = try XCTUnwrap(JSON.parse(targets.body) as? [[String: Any]], targets.body)
        let target = try XCTUnwrap(list.first { $0["type"] as? String == "page" && ($0["url"] as? String) == url })
        let socketURL = try XCTUnwrap(target["webSocketDebuggerUrl"] as? String)
        let path = String(socketURL[try XCTUnwrap(socketURL.range(of: "/devtools/")).lowerBound...])
        let devtools = DevTools(client: try await TestClient.connect(port: devtoolsPort, group: group, path: path))
        defer { devtools.client.close() }
        _ = try await devtools.call("Runtime.enable")
        _ = try await devtools.call("Log.enable")
        _ = try await devtools.call("Page.enable")
        // Load it again with every error reported from the start.
        _ = try await devtools.call("Page.reload", ["ignoreCache": true])
        try await devtools.event("Page.loadEventFired")

        let title = try await devtools.evaluate("document.title") as? String
        XCTAssertEqual(title, "Browser Test Relay")
        // The script has fetched /stats once the "updated" line says so.
        let updated = try await devtools.evaluate(Self.waitFor("/updated [0-9]/.test(text('updated'))"))
        XCTAssertEqual(updated as? Bool, true, "the page fetched its live figures")
        let before = try await devtools.evaluate("document.getElementById('events').textContent")
        XCTAssertEqual(before as? String, "0")

        // Publish: the open page shows the new figures by itself.
        let client = try await TestClient.connect(port: relay.port, group: group)
        defer { client.close() }
        _ = try await client.nextMessage()  // AUTH challenge
        let author = Signer(seed: 1201)
        let t = now
        for i in 0..<12 {
            let (ok, message) = try await client.publish(
                author.event(kind: 1, content: "live \(i)", createdAt: t - 20 + Int64(i)))
            XCTAssertTrue(ok, message)
        }
        let counted = try await devtools.evaluate(
            Self.waitFor("text('events') === '12' && text('connections') === '1'"))
        XCTAssertEqual(counted as? Bool, true, "events stored and connections follow the relay")
        // The rates come from samples five seconds apart: the ingest rate rises at the next one,
        // and the chart draws it.
        let charted = try await devtools.evaluate(
            Self.waitFor(
                "parseFloat(text('ingest')) > 0 && "
                    + "document.getElementById('ingest-line').getAttribute('points').split(' ').length >= 2"))
        XCTAssertEqual(charted as? Bool, true, "the ingest rate and the chart follow the relay")

        // A screenshot, kept in the build folder.
        let shot = try await devtools.call("Page.captureScreenshot", ["format": "png"])
        let png = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(shot["data"] as? String)))
        let file = RelayProcess.binary.deletingLastPathComponent().appendingPathComponent("status-page.png")
        try png.write(to: file)
        let written = try Data(contentsOf: file)
        XCTAssertEqual(Array(written.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A], "a PNG")
        XCTAssertGreaterThan(written.count, 5_000)

        XCTAssertEqual(devtools.errors, [], "no console errors")
    }

    /// An expression that resolves to true once `condition` holds in the page (checked every
    /// 100 ms, as the page's own updates come), or false after 30 seconds.
    static func waitFor(_ condition: String) -> String {
        """
        new Promise(function (resolve) {
          function text(id) { return document.getElementById(id).textContent; }
          var deadline = Date.now() + 30000;
          (function check() {
            if (\(condition)) { resolve(true); } else if (Date.now() > deadline) { resolve(false); } else { setTimeout(check, 100); }
          })();
        })
        """
    }
}
