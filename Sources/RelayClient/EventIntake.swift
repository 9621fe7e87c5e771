import Dispatch
import EventStorage
import NostrCore

/// What a sync does with each event another relay sends: only events it asked for, each with
/// its id and signature checked (as the relay's ingest does), ephemeral and expired ones left
/// out, the rest made into writes for the store's NIP rules.
public struct EventIntake {
    /// Ids asked for and not received yet.
    public private(set) var wanted: Set<Bytes32>
    public let now: Int64
    private var scratch: [UInt8] = []
    private var keys = Schnorr.PublicKeyCache()

    public init(wanted: Set<Bytes32>, now: Int64) {
        self.wanted = wanted
        self.now = now
    }

    public enum Verdict: Equatable {
        case write(Write)
        /// Not stored, and not an error (ephemeral, expired).
        case skipped
        case refused(String)

        public static func == (a: Verdict, b: Verdict) -> Bool {
            switch (a, b) {
            case (.write(let x), .write(let y)): x.event.id == y.event.id
            case (.skipped, .skipped): true
            case (.refused(let x), .refused(let y)): x == y
            default: false
            }
        }
    }

    public mutating func take(_ received: Result<Event, EventReader.Failure>) -> Verdict {
        let event: Event
        switch received {
        case .success(let e): event = e
        case .failure(let failure): return .refused("invalid: \(failure.reason)")
        }
        guard wanted.contains(event.id) else { return .refused("not asked for (or sent twice)") }
        // A forged copy does not take the place of the real event: checked before it counts.
        if EventID.compute(event, scratch: &scratch) != event.id {
            return .refused("invalid: event id does not match the hash of the event")
        }
        if !Schnorr.verify(event, cache: &keys) { return .refused("invalid: signature verification failed") }
        wanted.remove(event.id)
        if event.kindClass == .ephemeral { return .skipped }
        if let expiration = event.expiration, expiration <= now { return .skipped }
        return .write(Write.byKind(event))
    }

    /// The same checks for a batch, the ids and signatures checked on `workers` threads at once
    /// (a sync's download); one verdict per event, in order.
    public mutating func take(batch: [Result<Event, EventReader.Failure>], workers: Int) -> [Verdict] {
        var verdicts = [Verdict](repeating: .skipped, count: batch.count)
        var checks: [(index: Int, event: Event)] = []
        for (i, received) in batch.enumerated() {
            switch received {
            case .failure(let failure): verdicts[i] = .refused("invalid: \(failure.reason)")
            case .success(let event):
                if wanted.contains(event.id) {
                    checks.append((i, event))
                } else {
                    verdicts[i] = .refused("not asked for (or sent twice)")
                }
            }
        }
        let checked = Self.check(checks.map(\.event), now: now, workers: workers)
        for (k, check) in checks.enumerated() {
            // A copy sent twice: the first that passed the checks counts.
            if case .refused = checked[k] {
                verdicts[check.index] = checked[k]
            } else if wanted.remove(check.event.id) == nil {
                verdicts[check.index] = .refused("not asked for (or sent twice)")
            } else {
                verdicts[check.index] = checked[k]
            }
        }
        return verdicts
    }

    /// Ids, signatures, kinds and expirations of `events`, every `workers`-th event on one thread.
    static func check(_ events: [Event], now: Int64, workers: Int) -> [Verdict] {
        var out = [Verdict](repeating: .skipped, count: events.count)
        let workers = max(1, min(workers, events.count / 16))
        /// Each worker writes only its own slots.
        struct Slots: @unchecked Sendable { let base: UnsafeMutablePointer<Verdict> }
        out.withUnsafeMutableBufferPointer { buffer in
            let slots = Slots(base: buffer.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: workers) { worker in
                var scratch: [UInt8] = []
                var keys = Schnorr.PublicKeyCache(capacity: 1024)
                var i = worker
                while i < events.count {
                    let event = events[i]
                    let verdict: Verdict
                    if EventID.compute(event, scratch: &scratch) != event.id {
                        verdict = .refused("invalid: event id does not match the hash of the event")
                    } else if !Schnorr.verify(event, cache: &keys) {
                        verdict = .refused("invalid: signature verification failed")
                    } else if event.kindClass == .ephemeral {
                        verdict = .skipped
                    } else if let expiration = event.expiration, expiration <= now {
                        verdict = .skipped
                    } else {
                        verdict = .write(Write.byKind(event))
                    }
                    slots.base[i] = verdict
                    i += workers
                }
            }
        }
        return out
    }
}
