package io.onceflow.runtime.state.rocksdb;

import io.onceflow.api.RocksDBStateBackend;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.BloomFilter;
import org.rocksdb.Cache;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.CompactionStyle;
import org.rocksdb.CompressionType;
import org.rocksdb.DBOptions;
import org.rocksdb.Filter;
import org.rocksdb.InfoLogLevel;
import org.rocksdb.LRUCache;

/**
 * Options for the embedded databases, and the one block cache they share in a JVM. Defaults: the
 * cache takes an eighth of the memory of the machine, or of the container when a cgroup limits it,
 * at most 1 GiB; each state's memtable 32 MiB (two at most); LZ4 compression; a Bloom filter of 10
 * bits per key in every file (a lookup of a key not in state, the first record of every new key, would
 * otherwise read an index and a data block of each level); RocksDB's own logging at WARN.
 */
final class RocksDBResources {

    static final long DEFAULT_WRITE_BUFFER = 32L << 20;
    private static Cache sharedCache;
    private static long sharedCacheBytes;
    private static Filter sharedBloomFilter;

    private RocksDBResources() {
    }

    static DBOptions dbOptions() {
        return new DBOptions().setCreateIfMissing(true).setCreateMissingColumnFamilies(true)
                .setInfoLogLevel(InfoLogLevel.WARN_LEVEL).setKeepLogFileNum(2).setMaxOpenFiles(-1)
                .setMaxBackgroundJobs(2);
    }

    static ColumnFamilyOptions columnFamilyOptions(RocksDBStateBackend config) {
        long writeBuffer = config.writeBufferBytes() > 0 ? config.writeBufferBytes() : DEFAULT_WRITE_BUFFER;
        BlockBasedTableConfig table = new BlockBasedTableConfig().setBlockCache(cache(config.blockCacheBytes()))
                .setBlockSize(16 * 1024).setCacheIndexAndFilterBlocks(true)
                .setFilterPolicy(bloomFilter()).setPinL0FilterAndIndexBlocksInCache(true);
        return new ColumnFamilyOptions().setTableFormatConfig(table).setWriteBufferSize(writeBuffer)
                .setMaxWriteBufferNumber(2).setCompressionType(CompressionType.LZ4_COMPRESSION)
                .setCompactionStyle(CompactionStyle.LEVEL).setLevelCompactionDynamicLevelBytes(true);
    }

    /** The cache every database of this JVM shares, created at the first backend's size. */
    static synchronized Cache cache(long requested) {
        if (sharedCache == null) {
            sharedCacheBytes = requested > 0 ? requested : Math.min(1L << 30, availableMemory() / 8);
            sharedCache = new LRUCache(sharedCacheBytes);
        }
        return sharedCache;
    }

    /**
     * The filter policy every column family of this JVM shares: a native object that closing a column family's
     * options does not free, so one for the process rather than one per state and restart.
     */
    static synchronized Filter bloomFilter() {
        if (sharedBloomFilter == null) {
            sharedBloomFilter = new BloomFilter(10, false);
        }
        return sharedBloomFilter;
    }

    /** The memory of the container when a cgroup limits it, else of the machine. */
    static long availableMemory() {
        long machine = ((com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean())
                .getTotalMemorySize();
        for (Path limit : new Path[] {Path.of("/sys/fs/cgroup/memory.max"),
                Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes")}) {
            try {
                String value = Files.readString(limit).trim();
                if (!value.equals("max")) {
                    long bytes = Long.parseLong(value);
                    if (bytes > 0 && bytes < machine) {
                        return bytes;
                    }
                }
            } catch (Exception ignored) {
                // no cgroup limit there
            }
        }
        return machine;
    }
}
