package io.onceflow.runtime.storage;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FSDataOutputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Holds an HDFS lock file the way an owner does (created, written, flushed, kept open) until it is
 * killed; prints {@code held} once it does. Arguments: the file's URI and its content.
 */
public final class HdfsLockHolderMain {

    private HdfsLockHolderMain() {
    }

    public static void main(String[] args) throws Exception {
        URI file = URI.create(args[0]);
        FileSystem fs = FileSystem.newInstance(file, new Configuration());
        FSDataOutputStream out = fs.create(new Path(file), false);
        out.write(args[1].getBytes(StandardCharsets.UTF_8));
        out.hflush();
        System.out.println("held");
        System.out.flush();
        Thread.sleep(Long.MAX_VALUE);
    }
}
