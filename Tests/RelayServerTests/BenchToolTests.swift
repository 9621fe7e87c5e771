import Foundation
import RelayClient
import TernBench
import XCTest

/// `tern bench` against the real relay, small and bounded: every scenario completes and reports
/// what it must.
final class BenchToolTests: XCTestCase {
    func options(_ scenario: BenchOptions.Scenario, _ relay: TestRelay) -> BenchOptions {
        var o = BenchOptions(scenario: scenario, address: RelayAddress("ws://127.0.0.1:\(relay.port)")!)
        o.events = 300
        o.connections = 3
        o.window = 8
        o.subscribers = 5
        o.duration = 1
        o.authors = 20
        o.threads = 1
        o.seed = 12345
        o.relayPID = getpid()
        return o
    }

    func value(_ report: BenchReport, _ key: String) -> BenchReport.Value? {
        report.fields.first { $0.0 == key }?.1
    }

    func int(_ report: BenchReport, _ key: String) -> Int? {
        if case .int(let i)? = value(report, key) { return i }
        return nil
    }

    func testIngestAnswersEveryEvent() throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let report = try BenchRunner(options: options(.ingest, relay), log: { _ in }).run()
        XCTAssertEqual(int(report, "events_sent"), 300)
        XCTAssertGreaterThan(int(report, "events_accepted") ?? 0, 250)
        XCTAssertEqual(int(report, "ok_latency_count"), 300)
        XCTAssertNotNil(value(report, "relay_cpu_us_per_event"))
        XCTAssertTrue(report.json.hasPrefix(#"{"scenario":"ingest""#))
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(report.json.utf8)))
    }

    func testFanoutDeliversEveryEventToEverySubscriber() throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let report = try BenchRunner(options: options(.fanout, relay), log: { _ in }).run()
        let accepted = int(report, "events_accepted") ?? 0
        XCTAssertGreaterThan(accepted, 250, "a fan-out of nothing proves nothing")
        XCTAssertEqual(int(report, "deliveries"), accepted * 5)
        guard case .flag(let all)? = value(report, "every_subscriber_got_every_event") else { return XCTFail() }
        XCTAssertTrue(all)
    }

    /// The block device that holds `path`: /sys/dev/block/MAJOR:MINOR names it (a partition's
    /// link ends in its disk's folder, then its own).
    func blockDevice(of path: String) throws -> String {
        var info = stat()
        XCTAssertEqual(stat(path, &info), 0)
        let dev = UInt64(info.st_dev)  // glibc's encoding of major and minor (its `major`, `minor`)
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & ~0xfff)
        let minor = (dev & 0xff) | ((dev >> 12) & ~0xff)
        let link = "/sys/dev/block/\(major):\(minor)"
        let target = try FileManager.default.destinationOfSymbolicLink(atPath: link)
        let parts = target.split(separator: "/")
        let i = try XCTUnwrap(parts.firstIndex(of: "block"), target)
        return String(parts[i + 1])
    }

    func testIngestCountsTheDiskBytesItsEventsCost() throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        var measured = options(.ingest, relay)
        measured.disk = try blockDevice(of: relay.path)
        let report = try BenchRunner(options: measured, log: { _ in }).run()
        let written = try XCTUnwrap(int(report, "disk_bytes_written"), "no disk figure")
        XCTAssertGreaterThan(written, 0, "the store's commits are synced to that disk")
        XCTAssertEqual(
            int(report, "disk_bytes_per_accepted_event"), written / max(1, int(report, "events_accepted") ?? 0))
        for hostile in ["", "../../etc", "vda/../sda", "no-such-disk", "/sys", "."] {
            XCTAssertNil(DiskWrites.bytes(device: hostile), hostile)
        }
    }

    func testAPacedFanoutSendsEveryEventAndSaysItsRate() throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        var paced = options(.fanout, relay)
        paced.rate = 3000
        let report = try BenchRunner(options: paced, log: { _ in }).run()
        guard case .number(let rate)? = value(report, "rate_asked_per_second") else { return XCTFail("no rate") }
        XCTAssertEqual(rate, 3000)
        let accepted = int(report, "events_accepted") ?? 0
        XCTAssertEqual(int(report, "events_sent"), 300, "a paced run still sends every event")
        XCTAssertEqual(int(report, "deliveries"), accepted * 5)
    }

    func testQueryAndMixedComplete() throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        let q = try BenchRunner(options: options(.query, relay), log: { _ in }).run()
        guard case .text(let mix)? = value(q, "query_mix") else { return XCTFail("no mix") }
        XCTAssertEqual(mix, "realistic", "the realistic mix is the default")
        guard case .number(let inVerifications)? = value(q, "relay_cpu_per_query_in_verifications") else {
            return XCTFail("with a pid, the CPU per query is stated in verifications of the same run")
        }
        XCTAssertGreaterThan(inVerifications, 0)
        XCTAssertGreaterThan(int(q, "queries") ?? 0, 10)
        XCTAssertGreaterThan(int(q, "query_events_received") ?? 0, 0)
        XCTAssertEqual(int(q, "queries_closed_by_relay"), 0)
        var simple = options(.query, relay)
        simple.mix = .simple
        simple.prefilled = true
        simple.relayPID = nil
        let s = try BenchRunner(options: simple, log: { _ in }).run()
        XCTAssertGreaterThan(int(s, "query_events_received") ?? 0, 0, "the simple mix still finds events")
        let m = try BenchRunner(options: options(.mixed, relay), log: { _ in }).run()
        XCTAssertGreaterThan(int(m, "queries") ?? 0, 0)
        XCTAssertEqual(int(m, "events_sent"), 300)
    }

    func testFairnessTimesTheSmallREQAloneAndUnderHeavyLoad() throws {
        let relay = try TestRelay()
        defer { relay.stop() }
        var o = options(.fairness, relay)
        o.duration = 1.5
        let report = try BenchRunner(options: o, log: { _ in }).run()
        XCTAssertGreaterThan(int(report, "stored_events") ?? 0, 250)
        XCTAssertGreaterThan(int(report, "small_alone_eose_count") ?? 0, 0)
        XCTAssertGreaterThan(int(report, "heavy_alone_eose_count") ?? 0, 0)
        XCTAssertGreaterThan(int(report, "heavy_events_per_answer") ?? 0, 0, "the feed filter finds notes")
        XCTAssertGreaterThan(int(report, "small_loaded_eose_count") ?? 0, 0)
        XCTAssertGreaterThan(int(report, "heavy_loaded_eose_count") ?? 0, 0)
        XCTAssertEqual(int(report, "queries_closed_by_relay"), 0)
    }

    func testAddressParsing() {
        XCTAssertEqual(RelayAddress("ws://127.0.0.1:7447")?.port, 7447)
        XCTAssertEqual(RelayAddress("ws://localhost/relay")?.path, "/relay")
        XCTAssertNil(RelayAddress("wss://relay.example.com"), "TLS is not spoken by the bench")
        XCTAssertNil(RelayAddress("http://x"))
    }
}
