import NostrCore

/// NIP-01's filter rules written out plainly, sharing no code with `Filter.matches`: the
/// reference that the tests and the fuzzer check the store's query engine and the live
/// subscription index against. Not linked into `tern`.
public func naiveMatches(_ filter: Filter, _ event: Event) -> Bool {
    if let ids = filter.ids, !ids.contains(event.id) { return false }
    if let authors = filter.authors, !authors.contains(event.pubkey) { return false }
    if let kinds = filter.kinds, !kinds.contains(event.kind) { return false }
    if let since = filter.since, event.createdAt < since { return false }
    if let until = filter.until, event.createdAt > until { return false }
    for condition in filter.tags {
        let name = String(UnicodeScalar(condition.name))
        let found = event.tags.arrays.contains { tag in
            tag.count >= 2 && tag[0] == name && condition.values.contains(tag[1])
        }
        if !found { return false }
    }
    return true
}

/// A REQ's filters are OR-ed.
public func naiveMatches(_ filters: [Filter], _ event: Event) -> Bool {
    filters.contains { naiveMatches($0, event) }
}
