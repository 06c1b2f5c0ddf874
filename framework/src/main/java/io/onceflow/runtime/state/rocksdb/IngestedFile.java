package io.onceflow.runtime.state.rocksdb;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.rocksdb.ColumnFamilyHandle;
import org.rocksdb.ColumnFamilyOptions;
import org.rocksdb.DBOptions;
import org.rocksdb.EnvOptions;
import org.rocksdb.IngestExternalFileOptions;
import org.rocksdb.Options;
import org.rocksdb.RocksDB;
import org.rocksdb.RocksDBException;
import org.rocksdb.SstFileWriter;

/**
 * Rows of one column family, in ascending order, written into an SST file of their own and then moved into a
 * database whole ({@code IngestExternalFile}): no memtable insertion per row and no flush afterwards, where a
 * write batch pays for both. The file takes a sequence number above every row already in the database, so its
 * rows are read over any older row or range deletion of the same key.
 *
 * <p>For a restore whose rows arrive in order: a range copied out of another database through an iterator, or
 * a full checkpoint of a RocksDB backend, written in its database's order.
 */
final class IngestedFile implements AutoCloseable {

    private final Path file;
    private final Options options;
    private final EnvOptions envOptions;
    private final SstFileWriter writer;
    private long rows;

    IngestedFile(Path file, DBOptions dbOptions, ColumnFamilyOptions cfOptions) throws RocksDBException {
        this.file = file;
        this.options = new Options(dbOptions, cfOptions);
        this.envOptions = new EnvOptions();
        this.writer = new SstFileWriter(envOptions, options);
        try {
            writer.open(file.toString());
        } catch (RocksDBException e) {
            writer.close();
            envOptions.close();
            options.close();
            throw e;
        }
    }

    /** Adds a row; its key must sort after the previous row's. Direct buffers, read from position to limit. */
    void put(ByteBuffer key, ByteBuffer value) throws RocksDBException {
        writer.put(key, value);
        rows++;
    }

    /** Adds a row; its key must sort after the previous row's. */
    void put(byte[] key, byte[] value) throws RocksDBException {
        writer.put(key, value);
        rows++;
    }

    long rows() {
        return rows;
    }

    /** Ends the file and moves it into {@code db}'s column family {@code handle}; nothing if it holds no row. */
    void ingest(RocksDB db, ColumnFamilyHandle handle) throws RocksDBException {
        if (rows == 0) {
            return;
        }
        writer.finish();
        try (IngestExternalFileOptions o = new IngestExternalFileOptions().setMoveFiles(true)) {
            db.ingestExternalFile(handle, List.of(file.toString()), o);
        }
    }

    @Override
    public void close() throws IOException {
        writer.close();
        envOptions.close();
        options.close();
        Files.deleteIfExists(file);
    }
}
