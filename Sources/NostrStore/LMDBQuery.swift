import EventStorage
import NostrCore

/// An items walk found more than its caller takes.
struct ItemsOverflow: Error {}

/// One query on LMDB, run in steps over one read transaction (its snapshot), so the relay's
/// readers can interleave it with others. Each filter is planned when its turn comes and
/// walked prefix by prefix from `until` down to `since`; its matches are sorted newest first
/// (ties by lowest id) and cut to its limit, then merged into the answer.
final class LMDBQuery: StorageQuery, @unchecked Sendable {
    enum Mode {
        case events, count, items
    }

    let store: EventStore
    let filters: [Filter]
    let defaultLimit: Int
    let now: Int64
    let scope: ReadScope
    let mode: Mode
    let sequence: UInt64
    private var txn: LMDBTransaction?
    /// The log's tail beside the snapshot (nil when there is none): its matches join each
    /// filter's, and what it removed is left out of LMDB's.
    private let tail: TailSnapshot?
    private(set) var results: [StoredEvent] = []
    private(set) var counted = 0
    private(set) var items: [SyncItem] = []
    /// Count mode: NIP-45's registers, fed with each counted event's pubkey.
    var hll: HyperLogLog?
    /// Items mode: past this many, the walk stops (the caller refuses the sync).
    var maxItems = Int.max
    /// A search (NIP-50) ranks at most this many matches, the newest: the cost of a common word
    /// stays bounded.
    static let searchWindow = 1000
    /// The current filter's limit when it is a search (NIP-50): applied after ranking.
    private var searchLimit: Int?
    /// The current search's scores, by event id.
    private var searchScores: [Bytes32: Int] = [:]
    /// Some filter's scan budget ran out before its walk was complete.
    private(set) var budgetExhausted = false
    /// Ids already in the answer, when several filters may find the same event.
    private var seen: Set<Bytes32> = []
    private var filterIndex = 0
    private var scan: FilterScan?

    /// The walk of one filter.
    struct FilterScan {
        let filter: Filter
        let limit: Int
        let dbi: MDBDatabase
        let prefixes: [[UInt8]]
        let lower: UInt64
        var prefixIndex = 0
        var cursor: IndexCursor?
        /// The cursor stands on an entry not yet looked at (the last slice ended there).
        var atUnread = false
        var kept = 0
        /// Keys order equal created_at by serial, not id: once `limit` events are kept, the run
        /// of the last created_at is finished so the sort can pick by id.
        var boundary: UInt64?
        var budget: Int
        /// The walk is an index walk, bounded by the scan budget (not a list of ids).
        var budgeted: Bool { !prefixes.isEmpty }
        /// An event can sit under several prefixes of the tag index (two of the wanted values):
        /// there it is counted once. Under any other index each event has one key.
        let dedupe: Bool
        var serials: Set<UInt64> = []
        var found: [StoredEvent] = []
        /// Once `limit` events are kept over all prefixes, nothing older than the oldest of them
        /// can be in the answer: a prefix stops at it (inverted, as in the keys).
        var cutoff: UInt64 = .max
    }

    init(store: EventStore, filters: [Filter], defaultLimit: Int, now: Int64, scope: ReadScope, mode: Mode) throws {
        self.store = store
        self.filters = filters
        self.defaultLimit = defaultLimit
        self.now = now
        self.scope = scope
        self.mode = mode
        // The tail's views first, then the snapshot: a checkpoint between the two is then seen
        // by the snapshot, and `tailSnapshot` leaves out the layers it holds.
        let views = store.tail?.views()
        let txn = try store.env.begin(readOnly: true)
        self.txn = txn
        if let views {
            do {
                let (snapshot, sequence) = try store.tailSnapshot(views, txn)
                tail = snapshot.isEmpty ? nil : snapshot
                self.sequence = sequence
            } catch {
                txn.abort()
                throw error
            }
        } else {
            tail = nil
            sequence = txn.id
        }
    }

    deinit { cancel() }

    func cancel() {
        scan?.cursor?.close()
        scan = nil
        txn?.abort()
        txn = nil
    }

    func advance(steps: Int) throws -> Bool {
        guard let txn else { return true }
        var steps = steps
        while steps > 0 {
            if scan == nil {
                guard filterIndex < filters.count else {
                    // Search results keep their ranking (NIP-50), filter after filter.
                    if filters.count > 1 && mode == .events && !filters.contains(where: { !$0.searchTokens.isEmpty }) {
                        results.sort(by: StoredEvent.newestFirst)
                    }
                    cancel()
                    return true
                }
                try startFilter(filters[filterIndex], txn)
            }
            if try step(&steps, txn) {
                try finishFilter()
                filterIndex += 1
            }
        }
        return false
    }

    private func startFilter(_ filter: Filter, _ txn: LMDBTransaction) throws {
        // A filter without a limit gets the default, but one naming ids may get all of them.
        let limit = filter.limit ?? filter.ids?.count ?? defaultLimit
        // A search is ranked by match quality, so every match within the budget is read first.
        let ranked = !filter.searchTokens.isEmpty && mode == .events
        let effective = mode == .events && !ranked ? limit : Int.max
        searchLimit = ranked ? limit : nil
        if ranked && limit == 0 {
            scan = FilterScan(filter: filter, limit: 0, dbi: 0, prefixes: [], lower: 0, budget: 0, dedupe: false)
            return
        }
        guard effective > 0, !filter.matchesNothing else {
            scan = FilterScan(filter: filter, limit: 0, dbi: 0, prefixes: [], lower: 0, budget: 0, dedupe: false)
            return
        }
        switch try store.plan(filter, txn) {
        case .ids(let ids):
            var found: [StoredEvent] = []
            for id in ids {
                if let serial = try store.serial(txn, id: id) {
                    _ = try collect(txn, serial, filter, into: &found)
                }
            }
            scan = FilterScan(
                filter: filter, limit: effective, dbi: 0, prefixes: [], lower: 0, budget: 0, dedupe: false)
            scan!.found = found
        case .index(let dbi, let prefixes):
            scan = FilterScan(
                filter: filter, limit: effective, dbi: dbi, prefixes: prefixes,
                lower: IndexKeys.inverted(filter.since ?? 0), budget: store.options.maxScanPerFilter,
                dedupe: dbi == store.dbs.tag && prefixes.count > 1)
        }
    }

    /// Keeps a match: its JSON for `.events`, its id and time for `.items`, a count otherwise.
    private func collect(_ txn: LMDBTransaction, _ serial: UInt64, _ filter: Filter, into found: inout [StoredEvent])
        throws -> Bool
    {
        switch mode {
        case .events where searchLimit != nil:
            // A search: decoded once, checked, and scored in the same pass over its words.
            guard
                let found1 = try store.withJSON(
                    txn, serial: serial,
                    { json -> (StoredEvent, Int)? in
                        guard let event = Event.decode(json: json), filter.matches(fields: event), scope.admits(event),
                            tail?.isRemoved(event.id) != true
                        else { return nil }
                        if let expiration = event.expiration, expiration <= now { return nil }
                        guard let score = SearchText.match(content: event.content, query: filter.searchTokens) else {
                            return nil
                        }
                        return (StoredEvent(id: event.id, createdAt: event.createdAt, json: Array(json)), score)
                    })
            else { return false }
            found.append(found1.0)
            searchScores[found1.0.id] = found1.1
        case .events:
            guard
                let event = try store.candidate(
                    txn, serial, filter, now: now, scope: scope,
                    { head, json -> StoredEvent? in
                        if let tail, tail.isRemoved(head.id) { return nil }
                        return StoredEvent(id: head.id, createdAt: head.createdAt, json: Array(json))
                    }) ?? nil
            else { return false }
            found.append(event)
        case .count, .items:
            guard
                let event = try store.candidate(
                    txn, serial, filter, now: now, scope: scope,
                    { head, _ -> StoredEvent? in
                        if let tail, tail.isRemoved(head.id) { return nil }
                        hll?.add(head.pubkey)  // a max per register: an event counted twice adds nothing
                        return StoredEvent(id: head.id, createdAt: head.createdAt, json: [])
                    }) ?? nil
            else { return false }
            found.append(event)
            if mode == .items && found.count > maxItems { throw ItemsOverflow() }
        }
        return true
    }

    /// Walks the current filter's prefixes for up to `steps` entries; true when it is done.
    private func step(_ steps: inout Int, _ txn: LMDBTransaction) throws -> Bool {
        // Move the scan out while it runs, so that its arrays are not copied when they grow.
        guard var s = scan else { return true }
        scan = nil
        defer { scan = s }
        while s.prefixIndex < s.prefixes.count {
            let prefix = s.prefixes[s.prefixIndex]
            var more: Bool
            if let cursor = s.cursor {
                more = s.atUnread ? true : try cursor.next()
                s.atUnread = false
            } else {
                let cursor = try IndexCursor(txn, s.dbi, of: store.dbs, prefix: prefix)
                s.cursor = cursor
                s.kept = 0
                s.boundary = nil
                more = try cursor.seek(from: s.filter.until.map(IndexKeys.inverted))
            }
            while more {
                if steps <= 0 {
                    s.atUnread = true
                    return false
                }
                steps -= 1
                guard let (inverted, serial) = try s.cursor!.entry() else { break }
                if inverted > s.lower || inverted > s.cutoff { break }
                if let boundary = s.boundary, inverted != boundary { break }
                guard s.budget > 0 else {
                    budgetExhausted = true
                    break
                }
                s.budget -= 1
                if !s.dedupe || s.serials.insert(serial).inserted {
                    if try collect(txn, serial, s.filter, into: &s.found) {
                        // A search ranks the newest `searchWindow` matches, not every match.
                        if searchLimit != nil && s.found.count >= Self.searchWindow {
                            s.prefixIndex = s.prefixes.count
                            return true
                        }
                        s.kept += 1
                        if s.kept >= s.limit && s.boundary == nil { s.boundary = inverted }
                        if mode == .events, s.prefixes.count > 1, s.limit < Int.max / 2, s.found.count >= 2 * s.limit {
                            trim(&s)
                        }
                    }
                }
                more = try s.cursor!.next()
            }
            s.cursor?.close()
            s.cursor = nil
            s.prefixIndex += 1
        }
        return true
    }

    /// NIP-50's order: match quality (`SearchText.score`), then newest, then lowest id; cut to
    /// `limit`.
    private func rank(_ found: inout [StoredEvent], _ filter: Filter, limit: Int) {
        let scores = searchScores
        searchScores.removeAll()
        found = found.sorted { a, b in
            let x = scores[a.id] ?? 0
            let y = scores[b.id] ?? 0
            return x != y ? x > y : StoredEvent.newestFirst(a, b)
        }.prefix(limit).map { $0 }
    }

    /// Keeps the newest `limit` of what a many-prefix scan found so far, and from then on skips
    /// what is older than the oldest of them (a home feed of many authors walks each author only
    /// back to that point).
    private func trim(_ s: inout FilterScan) {
        s.found.sort(by: StoredEvent.newestFirst)
        s.found.removeSubrange(s.limit...)
        s.cutoff = IndexKeys.inverted(s.found[s.limit - 1].createdAt)
    }

    /// The tail's events that pass the current filter join what LMDB gave it (the sort and the
    /// limit below then treat them alike). Each is checked as LMDB's candidates are: on its head
    /// and its tags' JSON, decoded only when that cannot decide (a search, a private kind).
    private func addTailMatches(_ s: inout FilterScan) throws {
        guard let tail, s.limit > 0 else { return }
        let filter = s.filter
        let searching = !filter.searchTokens.isEmpty
        // A plain REQ keeps only its newest `limit`: once that many are found, what is older than
        // the oldest of them is skipped on its head, and the list is cut back now and then.
        let bounded = mode == .events && searchLimit == nil && s.limit < Int.max / 2
        var floor = Int64.min
        func cut() {
            s.found.sort(by: StoredEvent.newestFirst)
            if s.found.count > s.limit { s.found.removeSubrange(s.limit...) }
            if s.found.count == s.limit { floor = s.found[s.limit - 1].createdAt }
        }
        if bounded && s.found.count >= s.limit { cut() }
        try tail.forEachStored { stored in
            let head = stored.head
            guard head.createdAt >= floor,
                filter.matchesFields(id: head.id, pubkey: head.pubkey, kind: head.kind, createdAt: head.createdAt)
            else { return }
            if let expiration = stored.expiration, expiration <= now { return }
            if searching && SearchText.unindexedKinds.contains(head.kind) { return }
            var score: Int?
            let passes = stored.json.withUnsafeBufferPointer { bytes -> Bool in
                let tags = UnsafeBufferPointer(rebasing: bytes[head.tags])
                if !searching, let matches = filter.matches(head, tags: tags) {
                    guard matches else { return false }
                    if let inScope = scope.admits(head, tags: tags) { return inScope }
                }
                guard let event = Event.decode(json: bytes), filter.matches(fields: event), scope.admits(event) else {
                    return false
                }
                guard searching else { return true }
                score = SearchText.match(content: event.content, query: filter.searchTokens)
                return score != nil
            }
            guard passes else { return }
            // As LMDB's walk does, a filter's matches count against its scan budget.
            if s.budgeted {
                guard s.budget > 0 else {
                    budgetExhausted = true
                    return
                }
                s.budget -= 1
            }
            if searchLimit != nil, let score { searchScores[head.id] = score }
            switch mode {
            case .events:
                s.found.append(StoredEvent(id: head.id, createdAt: head.createdAt, json: stored.json))
                if bounded && s.found.count >= 2 * s.limit + 16 { cut() }
            case .count, .items:
                hll?.add(head.pubkey)
                s.found.append(StoredEvent(id: head.id, createdAt: head.createdAt, json: []))
                if mode == .items && s.found.count > maxItems { throw ItemsOverflow() }
            }
        }
    }

    private func finishFilter() throws {
        guard var s = scan else { return }
        scan = nil
        s.cursor?.close()
        try addTailMatches(&s)
        if let searchLimit {
            rank(&s.found, s.filter, limit: searchLimit)
        } else if s.found.count > s.limit || (s.found.count > 1 && mode == .events) {
            s.found.sort(by: StoredEvent.newestFirst)
            if s.found.count > s.limit { s.found.removeSubrange(s.limit...) }
        }
        let several = filters.count > 1
        for event in s.found where !several || seen.insert(event.id).inserted {
            switch mode {
            case .events: results.append(event)
            case .count: counted += 1
            case .items: items.append(SyncItem(createdAt: event.createdAt, id: event.id))
            }
        }
    }
}
