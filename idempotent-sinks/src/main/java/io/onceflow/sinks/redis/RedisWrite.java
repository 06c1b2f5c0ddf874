package io.onceflow.sinks.redis;

import java.util.Objects;

/**
 * One write into Redis, made from one record by the sink's {@link RedisMapper}: {@code SET key value},
 * {@code HSET key field value} or {@code ZADD key score member}, optionally with a version (see
 * {@link #withVersion}).
 */
public record RedisWrite(Kind kind, String key, String field, String value, double score, long version) {

    /** Which command. */
    public enum Kind { SET, HSET, ZADD }

    /** No version: the write always applies. */
    public static final long NO_VERSION = Long.MIN_VALUE;

    public RedisWrite {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(key, "key");
    }

    /** {@code SET key value}. */
    public static RedisWrite set(String key, String value) {
        return new RedisWrite(Kind.SET, key, null, Objects.requireNonNull(value, "value"), 0, NO_VERSION);
    }

    /** {@code HSET key field value}. */
    public static RedisWrite hset(String key, String field, String value) {
        return new RedisWrite(Kind.HSET, key, Objects.requireNonNull(field, "field"), Objects.requireNonNull(value, "value"),
                0, NO_VERSION);
    }

    /** {@code ZADD key score member}. */
    public static RedisWrite zadd(String key, double score, String member) {
        return new RedisWrite(Kind.ZADD, key, Objects.requireNonNull(member, "member"), null, score, NO_VERSION);
    }

    /**
     * The same write, applied only if {@code version} is higher than the version Redis holds for this key
     * (and field or member): a replay after a crash never writes an older value over a newer one. The
     * version is kept beside the data, in {@code <key><suffix>} (a string for SET, a hash by field or member
     * otherwise; the suffix is the sink's, default {@code :version}), and compared in a Lua script.
     */
    public RedisWrite withVersion(long version) {
        if (version == NO_VERSION) {
            throw new IllegalArgumentException("version " + version + " is reserved for 'no version'");
        }
        return new RedisWrite(kind, key, field, value, score, version);
    }

    boolean versioned() {
        return version != NO_VERSION;
    }

    /** What a later write of the same target replaces: the command, key and field or member. */
    String target() {
        return kind + "\u0000" + key + (field == null ? "" : "\u0000" + field);
    }
}
