package io.onceflow.wal;

import io.onceflow.api.NonRecoverableException;
import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.sink.CheckpointFiles;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.zip.CRC32C;
import java.util.zip.CheckedInputStream;

/**
 * The records of one {@link WalBatch}, streamed from checkpoint storage: each pass opens the file again and
 * reads one record at a time. Before the first pass the file is read once whole and its checksum compared with
 * the batch's, so that nothing of a batch changed in storage is sent. {@link #close} closes what passes left open.
 */
final class WalRecords<T> implements Iterable<T>, AutoCloseable {
    private final CheckpointFiles files;
    private final WalBatch batch;
    private final TypeSerializer<T> serializer;
    private final List<DataInputStream> open = new ArrayList<>();
    private boolean verified;

    WalRecords(CheckpointFiles files, WalBatch batch, TypeSerializer<T> serializer) {
        this.files = files;
        this.batch = batch;
        this.serializer = serializer;
    }

    @Override
    public Iterator<T> iterator() {
        if (!verified) {
            verify();
            verified = true;
        }
        DataInputStream in;
        try {
            in = new DataInputStream(new BufferedInputStream(files.open(batch.file()), 64 * 1024));
        } catch (IOException e) {
            throw new UncheckedIOException("Could not open the write-ahead batch of checkpoint " + batch.checkpointId()
                    + " (subtask " + batch.subtask() + ") at " + batch.file().path() + " in " + files.describe(), e);
        }
        open.add(in);
        return new Iterator<>() {
            private long read;

            @Override
            public boolean hasNext() {
                return read < batch.records();
            }

            @Override
            public T next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                try {
                    T value = serializer.deserialize(in);
                    if (++read == batch.records()) {
                        in.close();
                    }
                    return value;
                } catch (IOException e) {
                    throw new UncheckedIOException("Could not read record " + read + " of " + batch.records()
                            + " of the write-ahead batch of checkpoint " + batch.checkpointId() + " at "
                            + batch.file().path(), e);
                }
            }
        };
    }

    /** Fails, for good, if the batch's file does not give the checksum it was written with. */
    private void verify() {
        if (batch.checksum() == WalBatch.NO_CHECKSUM) {
            return;
        }
        long size;
        long computed;
        try (CheckedInputStream file = new CheckedInputStream(files.open(batch.file()), new CRC32C())) {
            size = file.transferTo(OutputStream.nullOutputStream());
            computed = file.getChecksum().getValue();
        } catch (IOException e) {
            throw new UncheckedIOException("Could not read the write-ahead batch of checkpoint " + batch.checkpointId()
                    + " (subtask " + batch.subtask() + ") at " + batch.file().path() + " in " + files.describe(), e);
        }
        if (computed != batch.checksum() || size != batch.file().size()) {
            throw new NonRecoverableException("The write-ahead batch of checkpoint " + batch.checkpointId()
                    + " (subtask " + batch.subtask() + ", " + batch.records() + " records) at " + batch.file().path()
                    + " in " + files.describe() + " is damaged: its " + size + " bytes (" + batch.file().size()
                    + " written) do not give the checksum written with them (CRC-32C "
                    + String.format("%08x", computed) + " instead of " + String.format("%08x", batch.checksum())
                    + "); they were changed in storage after they were written. None of its records was sent, and "
                    + "they cannot be read from this checkpoint: put the file back from a copy, or run the job again "
                    + "from input before checkpoint " + batch.checkpointId());
        }
    }

    @Override
    public void close() {
        for (DataInputStream in : open) {
            try {
                in.close();
            } catch (IOException e) {
                // only reading
            }
        }
        open.clear();
    }
}
