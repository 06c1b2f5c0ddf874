package io.onceflow.runtime.state;

import io.onceflow.runtime.storage.StateHandle;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/** A job's shared state storage for tests: files in {@code <dir>/shared}, each upload remembered in order. */
class DirectorySharedFiles implements KeyedStateSnapshot.SharedFiles {
    final Path dir;
    final List<StateHandle.InFile> uploaded = new ArrayList<>();

    DirectorySharedFiles(Path dir) {
        this.dir = dir;
    }

    @Override
    public StateHandle.InFile upload(String name, Path file) throws IOException {
        Path target = dir.resolve("shared").resolve(name);
        Files.createDirectories(target.getParent());
        Files.copy(file, target);
        StateHandle.InFile handle = new StateHandle.InFile("shared/" + name, Files.size(target));
        uploaded.add(handle);
        return handle;
    }

    /** Reads the files back as a restore does. */
    SharedFileReader reader() {
        return (handle, file) -> Files.copy(dir.resolve(handle.path()), file, StandardCopyOption.REPLACE_EXISTING);
    }
}
