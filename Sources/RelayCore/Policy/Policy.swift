import NostrCore

/// The operator's policy, as configured: who may write and read what. A value, so that a
/// reloaded file is compared with the running one and compiled into rules
/// (`PolicySnapshot`) in one step. Lists managed at run time through NIP-86 are `AccessLists`.
public struct Policy: Sendable, Equatable {
    /// Who may publish.
    public enum AccessMode: String, Sendable, Equatable, CaseIterable {
        /// Anyone not denied.
        case open
        /// Only pubkeys on the allow list (from the file and from NIP-86), and admins.
        case allowlist
        /// Only pubkeys that an admin's contact list (kind 3) follows, and admins.
        case follows
    }

    public var mode: AccessMode = .open
    /// Pubkeys that may manage the relay (NIP-86) and whose contact lists make `follows`.
    public var admins: [Bytes32] = []
    /// In `allowlist` mode, who may publish (NIP-86 `allowpubkey` adds to it).
    public var allowPubkeys: [Bytes32] = []
    /// Never accepted from (`blocked:`), in every mode.
    public var denyPubkeys: [Bytes32] = []
    /// When not empty, only these kinds are accepted (`blocked:`).
    public var allowKinds: [UInt16] = []
    /// Never accepted (`blocked:`).
    public var denyKinds: [UInt16] = []
    /// Per-kind limits on content and tags (`invalid:`), tighter than the relay-wide ones.
    public var kindLimits: [UInt16: KindLimit] = [:]
    /// NIP-13: the fewest leading zero bits an event id must have (`pow:`); 0: none.
    public var minPowDifficulty = 0
    /// NIP-70: accept `["-"]` events from their authenticated author (otherwise reject them all).
    public var acceptProtectedEvents = true
    /// Require NIP-42 AUTH before any EVENT is accepted.
    public var authRequiredForWrites = false
    /// Require NIP-42 AUTH before any REQ is answered.
    public var authRequiredForReads = false
    /// Kinds served only to authenticated connections (the rest of the relay stays open).
    public var authRequiredKinds: [UInt16] = []
    /// Direct messages (kind 4) and gift wraps (1059) are served only to a connection
    /// authenticated as their author or a `p`-tagged recipient.
    public var protectDirectMessages = true
    public var rateLimits = RateLimits()
    /// An external write-policy program, as strfry runs them.
    public var plugin = PluginSettings()

    public init() {}

    /// The kinds whose events only their parties may read.
    public static let directMessageKinds: [UInt16] = [4, Kinds.giftWrap]

    /// Whether writes are limited beyond the protocol (NIP-11 `restricted_writes`).
    public var restrictsWrites: Bool {
        mode != .open || authRequiredForWrites || !allowKinds.isEmpty || minPowDifficulty > 0
    }
}

/// A kind's own limits.
public struct KindLimit: Sendable, Equatable {
    /// Largest `content`, in unicode characters.
    public var maxContentLength: Int?
    /// Most tags.
    public var maxTags: Int?

    public init(maxContentLength: Int? = nil, maxTags: Int? = nil) {
        self.maxContentLength = maxContentLength
        self.maxTags = maxTags
    }
}

/// Token-bucket rates (`rate-limited:`): each allows `perMinute` on average and bursts of
/// `burst`; 0 per minute turns the bucket off.
public struct RateLimits: Sendable, Equatable {
    public var eventsPerIP = Rate()
    public var eventsPerPubkey = Rate()
    public var reqsPerIP = Rate()
    public var reqsPerPubkey = Rate()

    public init() {}

    public struct Rate: Sendable, Equatable {
        public var perMinute: Int
        /// 0: the same as one second's worth, at least 1.
        public var burst: Int

        public init(perMinute: Int = 0, burst: Int = 0) {
            self.perMinute = perMinute
            self.burst = burst
        }

        public var isOn: Bool { perMinute > 0 }
        public var capacity: Int { burst > 0 ? burst : max(1, perMinute / 60) }
    }
}

/// A strfry-compatible write-policy plugin: the program, how long an answer may take, and
/// what happens to events while it cannot answer.
public struct PluginSettings: Sendable, Equatable {
    /// A path to an executable, or a shell command (one with spaces); empty: no plugin.
    public var command = ""
    /// Milliseconds the plugin may take to answer one event; past it, it is restarted.
    public var timeoutMilliseconds = 2000
    /// While the plugin cannot answer (starting, crashed, hung): accept events (true) or refuse
    /// them with `error:` (false, the default).
    public var failOpen = false
    /// Events waiting for the plugin, in all; past it, `rate-limited:`.
    public var queueDepth = 4096

    public init() {}

    public var isEnabled: Bool { !command.isEmpty }
}
