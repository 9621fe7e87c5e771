import Benchmark
import Foundation
import NostrCore
import NostrStore
import RelayCore

/// Hot paths, each measured in time and in mallocs per operation. Malloc counts are
/// deterministic; `Benchmarks/Thresholds` holds the committed counts and `make benchmark-check`
/// (part of `make test`) fails when a change raises one.
let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .microseconds,
        warmupIterations: 10,
        maxDuration: .seconds(1),
        maxIterations: 100_000,
        thresholds: [.mallocCountTotal: BenchmarkThresholds(absolute: [.p50: 0, .p90: 0])]
    )

    Benchmark("parse_client_EVENT_message") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? ClientMessage.parse(Fixtures.noteMessage))
        }
    }

    Benchmark("canonical_serialization_and_id_hash") { benchmark in
        var scratch: [UInt8] = []
        scratch.reserveCapacity(2048)
        for _ in benchmark.scaledIterations {
            blackHole(EventID.compute(Fixtures.note, scratch: &scratch))
        }
    }

    Benchmark("verify_BIP340_signature") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Schnorr.verify(Fixtures.note))
        }
    }

    Benchmark("compile_REQ_filter") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(try? ClientMessage.parse(Fixtures.filterMessage))
        }
    }

    // N subscriptions, each following its own author (plus a kind and a tag subscription that
    // do not match): the event matches exactly one, so any cost that grows with N is per
    // non-matching subscription.
    for count in [1, 100, 10_000] {
        let index = SubscriptionIndex()
        let subscriber = NullSubscriber()
        for i in 0..<count {
            let author = Bytes32(w0: UInt64(i), w1: 7, w2: 7, w3: 7)
            index.add(
                connection: UInt64(i), subscriptionID: "s", filters: [Filter(authors: [author], kinds: [1])],
                subscriber: subscriber)
        }
        index.add(connection: 1_000_000, subscriptionID: "k", filters: [Filter(kinds: [7])], subscriber: subscriber)
        index.add(
            connection: 1_000_001, subscriptionID: "t",
            filters: [Filter(tags: [.init(name: UInt8(ascii: "t"), values: ["other"])])], subscriber: subscriber)
        let event = Fixtures.signer.event(kind: 1, content: "x", tags: [["t", "nostr"]], createdAt: 1)
        let matching = Event(
            id: event.id, pubkey: Bytes32(w0: 0, w1: 7, w2: 7, w3: 7), createdAt: 1, kind: 1, tags: event.tags,
            content: "x", sig: event.sig)
        Benchmark("match_event_against_\(count)_subscriptions") { benchmark in
            for _ in benchmark.scaledIterations {
                blackHole(index.match(matching))
            }
        }
    }

    Benchmark("event_to_stored_JSON") { benchmark in
        for _ in benchmark.scaledIterations {
            blackHole(Fixtures.note.jsonBytes)
        }
    }

    Benchmark(
        "insert_batch_of_1000_events_into_LMDB",
        configuration: .init(
            warmupIterations: 1, maxDuration: .seconds(3), maxIterations: 20,
            // How the writer thread groups the 1,000 events into commits varies with timing, and
            // each commit allocates a few buffers: allow 0.1 malloc per event of slack.
            thresholds: [.mallocCountTotal: BenchmarkThresholds(absolute: [.p50: 100, .p90: 100])])
    ) { benchmark in
        let (store, writer, path) = try! Fixtures.temporaryStore()
        let events = Fixtures.storeEvents(count: 1000 * (benchmark.scaledIterations.count + 1), seed: 1)
        var offset = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            Fixtures.write(events[offset..<(offset + 1000)], writer)
            offset += 1000
        }
        benchmark.stopMeasurement()
        writer.shutdown()
        store.close()
        try? FileManager.default.removeItem(atPath: path)
    }

    // Both ingest benchmarks share one store and one warmed-up writer across their samples (see
    // IngestFixture), so that a sample counts what one more event costs.
    for (name, short) in [
        ("ingest_one_event_parse_validate_store", true),
        ("ingest_one_note_with_e_p_t_tags_parse_validate_store", false),
    ] {
        Benchmark(name, configuration: .init(warmupIterations: 5, maxDuration: .seconds(2), maxIterations: 2000)) {
            benchmark in
            let fixture = short ? IngestFixture.small : IngestFixture.note
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations { fixture.ingestNext() }
            benchmark.stopMeasurement()
        }
    }

    queryBenchmarks()
    policyBenchmarks()
}

final class NullSubscriber: Subscriber {
    func admits(_ event: Event) -> Bool { true }
    func deliver(_ lives: [LiveEvent]) {}
}
