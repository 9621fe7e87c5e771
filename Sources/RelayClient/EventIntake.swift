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
}
