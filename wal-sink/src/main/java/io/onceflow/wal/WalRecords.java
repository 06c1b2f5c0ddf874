package io.onceflow.wal;

import io.onceflow.api.serialization.TypeSerializer;
import io.onceflow.api.sink.CheckpointFiles;
import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

/**
 * The records of one {@link WalBatch}, streamed from checkpoint storage: each pass opens the file again and
 * reads one record at a time. {@link #close} closes what passes left open.
 */
final class WalRecords<T> implements Iterable<T>, AutoCloseable {
    private final CheckpointFiles files;
    private final WalBatch batch;
    private final TypeSerializer<T> serializer;
    private final List<DataInputStream> open = new ArrayList<>();

    WalRecords(CheckpointFiles files, WalBatch batch, TypeSerializer<T> serializer) {
        this.files = files;
        this.batch = batch;
        this.serializer = serializer;
    }

    @Override
    public Iterator<T> iterator() {
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
