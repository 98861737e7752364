"""Nothing a job controls escapes its allocation directory or reaches the agent's `.state/`
(review findings H8, M5, M6, L5, L6), against real files, real archives and a real HTTP server.
The task logs (their reading and rotation) are test_log_paths.py."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from controllers.driver_runner.artifacts import ArtifactError, _land, fetch, shown
from controllers.driver_runner.templates import (
    TemplateError,
    destination,
    read_beneath,
    render,
    render_all,
    write_file,
)
from reconciler.model.alloc_dir import PathEscapeError
from reconciler.model.alloc_fs import resolve
from reconciler.model.job import Artifact, Template
from tests.fileserver import serve_directory


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    alloc_root = tmp_path / "alloc1"
    task_dir = alloc_root / "web"
    (task_dir / "local").mkdir(parents=True)
    (alloc_root / ".state").mkdir()
    return task_dir, alloc_root


@pytest.fixture
def www(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    with serve_directory(root) as url:
        yield url, root


@pytest.mark.timeout(60)
def test_h8_template_render_is_linear() -> None:
    """R6: `"{{" * n` took 47 s at 40 KB and grew as n squared, so this 4 MB input would take
    days under the old renderer and fail on the timeout; one linear pass takes well under a second."""
    text = "{{" * 2_000_000
    assert render(text, {}) == text


@pytest.mark.parametrize("left", ["a", "{", "<<"])
def test_h8_user_chosen_delimiters_stay_linear_and_correct(left: str) -> None:
    right = ">>"
    text = f'x {left} env "A" {right} {left}-  env "B" -{right}  y' + left * 1000
    assert render(text, {"A": "1", "B": "2"}, left=left, right=right) == "x 12y" + left * 1000


@pytest.mark.parametrize("dest", ["../.state/web.handle.json", "../.state", "../../alloc1/.state/x"])
def test_m5_template_cannot_write_the_agents_state(dirs: tuple[Path, Path], dest: str) -> None:
    task_dir, alloc_root = dirs
    with pytest.raises(TemplateError, match=r"\.state"):
        render_all([Template(data="forged", destination=dest)], {}, task_dir=task_dir, alloc_root=alloc_root)
    assert list((alloc_root / ".state").iterdir()) == []


def test_m5_template_source_cannot_read_the_agents_state(dirs: tuple[Path, Path]) -> None:
    task_dir, alloc_root = dirs
    (alloc_root / ".state" / "web.spec").write_text("SECRET=1")
    with pytest.raises(TemplateError, match=r"\.state"):
        render_all(
            [Template(source="../.state/web.spec", destination="local/x")],
            {},
            task_dir=task_dir,
            alloc_root=alloc_root,
        )


def test_m5_a_planted_tmp_symlink_is_replaced_not_followed(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    task_dir, alloc_root = dirs
    victim = tmp_path / "victim"
    victim.write_text("original")
    os.symlink(victim, task_dir / "local" / "app.conf.tmp")
    render_all(
        [Template(data="rendered", destination="local/app.conf")],
        {},
        task_dir=task_dir,
        alloc_root=alloc_root,
    )
    assert victim.read_text() == "original"
    assert (task_dir / "local" / "app.conf").read_text() == "rendered"


@pytest.mark.parametrize("perms", ["4755", "2755", "1777", "rwx"])
def test_l5_template_perms_cannot_set_setuid_or_garbage(dirs: tuple[Path, Path], perms: str) -> None:
    task_dir, alloc_root = dirs
    with pytest.raises(TemplateError, match="perms"):
        render_all(
            [Template(data="x", destination="local/x", perms=perms)],
            {},
            task_dir=task_dir,
            alloc_root=alloc_root,
        )


def _tar_with(member: tarfile.TarInfo, data: bytes = b"") -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        tf.addfile(member, io.BytesIO(data) if data else None)
        if member.issym():  # the classic: a link first, then a file written through it
            follow = tarfile.TarInfo(member.name + "/pwned")
            follow.size = 1
            tf.addfile(follow, io.BytesIO(b"x"))
    return buf.getvalue()


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


@pytest.mark.parametrize(
    "member",
    [
        _link("up", "../../..", tarfile.SYMTYPE),
        _link("hard", "/etc/passwd", tarfile.LNKTYPE),
        _link("dev", "", tarfile.CHRTYPE),
    ],
    ids=["symlink", "hardlink", "device"],
)
def test_m6_archive_links_and_special_files_are_refused(
    www: tuple[str, Path], dirs: tuple[Path, Path], member: tarfile.TarInfo
) -> None:
    url, root = www
    (root / "evil.tar.gz").write_bytes(_tar_with(member))
    task_dir, alloc_root = dirs
    with pytest.raises(ArtifactError, match="is a link or a special file"):
        fetch(Artifact(source=f"{url}/evil.tar.gz"), task_dir=task_dir, alloc_root=alloc_root, backoff=0.01)
    assert list((task_dir / "local").iterdir()) == []


def test_m6_zip_symlink_member_is_refused(www: tuple[str, Path], dirs: tuple[Path, Path]) -> None:
    url, root = www
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link")
        info.external_attr = 0o120777 << 16
        zf.writestr(info, "/etc/passwd")
    (root / "evil.zip").write_bytes(buf.getvalue())
    task_dir, alloc_root = dirs
    with pytest.raises(ArtifactError, match="is a link or a special file"):
        fetch(Artifact(source=f"{url}/evil.zip"), task_dir=task_dir, alloc_root=alloc_root, backoff=0.01)


def test_m6_archive_bomb_is_refused_before_writing(
    www: tuple[str, Path], dirs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from controllers.driver_runner import artifacts

    monkeypatch.setattr(artifacts, "MAX_UNPACKED", 1000)  # the cap, shrunk so the test is small
    url, root = www
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for i in range(3):
            info = tarfile.TarInfo(f"f{i}")
            info.size = 600
            tf.addfile(info, io.BytesIO(b"\0" * 600))
    (root / "bomb.tar.gz").write_bytes(buf.getvalue())
    task_dir, alloc_root = dirs
    with pytest.raises(ArtifactError, match="unpacks to more than 1000 bytes"):
        fetch(Artifact(source=f"{url}/bomb.tar.gz"), task_dir=task_dir, alloc_root=alloc_root, backoff=0.01)
    assert list((task_dir / "local").iterdir()) == []


@pytest.mark.parametrize("source", ["../../../../../../etc/passwd", "../.state/web.spec"])
def test_m6_relative_file_sources_stay_in_the_alloc_dir(dirs: tuple[Path, Path], source: str) -> None:
    task_dir, alloc_root = dirs
    (alloc_root / ".state" / "web.spec").write_text("x")
    with pytest.raises(ArtifactError, match="outside the allocation directory"):
        fetch(Artifact(source=source), task_dir=task_dir, alloc_root=alloc_root)


def test_m6_absolute_file_sources_need_an_allowed_root(tmp_path: Path, dirs: tuple[Path, Path]) -> None:
    """An absolute `file://` source is read only inside the allocation directory, or under a
    directory the agent allows (`--artifact-file-roots`), as Nomad's artifact sandbox lets
    go-getter read only the task's directory; a link out of an allowed root is refused."""
    task_dir, alloc_root = dirs
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("agent-only")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "app.jar").write_text("jar")
    (shared / "escape").symlink_to(outside / "secret")
    (alloc_root / ".state" / "web.spec").write_text("x")
    for source in (f"file://{outside}/secret", "file:///etc/passwd", f"file://{alloc_root}/.state/web.spec"):
        with pytest.raises(ArtifactError, match=r"outside the allocation directory|private"):
            fetch(
                Artifact(source=source), task_dir=task_dir, alloc_root=alloc_root, file_roots=(str(shared),)
            )
    with pytest.raises(ArtifactError, match="outside the allocation directory"):
        fetch(
            Artifact(source=f"file://{shared}/escape"),
            task_dir=task_dir,
            alloc_root=alloc_root,
            file_roots=(str(shared),),
        )
    got = fetch(
        Artifact(source=f"file://{shared}/app.jar"),
        task_dir=task_dir,
        alloc_root=alloc_root,
        file_roots=(str(shared),),
    )
    assert (got / "app.jar").read_text() == "jar" if got.is_dir() else got.read_text() == "jar"
    (task_dir / "local" / "mine").write_text("mine")
    got = fetch(
        Artifact(source=f"file://{task_dir}/local/mine", destination="local/copy/"),
        task_dir=task_dir,
        alloc_root=alloc_root,
    )
    assert (task_dir / "local" / "copy" / "mine").read_text() == "mine"


def test_m5_a_directory_swapped_for_a_link_after_the_check_is_not_followed(
    tmp_path: Path, dirs: tuple[Path, Path]
) -> None:
    """The race between `inside()` and the write: a task replaces a checked directory with a
    link out of the allocation directory; the template is neither written nor read there."""
    task_dir, alloc_root = dirs
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_text("host file")
    sub = task_dir / "local" / "sub"
    sub.mkdir()
    tpl = Template(destination="local/sub/x", data="evil")
    dest = destination(tpl, task_dir=task_dir, alloc_root=alloc_root)
    sub.rmdir()
    sub.symlink_to(outside)  # after the check, before the write
    with pytest.raises(OSError, match=r"symbolic links|Not a directory"):
        write_file(dest, "evil", 0o644, root=alloc_root)
    with pytest.raises(OSError, match=r"symbolic links|Not a directory"):
        read_beneath(alloc_root, dest, 100)
    assert (outside / "x").read_text() == "host file"
    assert sorted(p.name for p in outside.iterdir()) == ["x"]
    with pytest.raises(PathEscapeError):
        write_file(alloc_root / ".state" / "web.spec", "forged", 0o644, root=alloc_root)


def test_m5_an_artifact_is_not_placed_through_a_swapped_link(tmp_path: Path, dirs: tuple[Path, Path]) -> None:
    """An artifact's destination checked, then a directory on its way swapped for a link out
    of the allocation directory (as a racing task would): nothing lands outside, neither a
    file nor an unpacked archive."""
    task_dir, alloc_root = dirs
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    bin_dir = task_dir / "local" / "bin"
    bin_dir.mkdir()
    dest = bin_dir.resolve()  # what the check returned
    bin_dir.rmdir()
    bin_dir.symlink_to(outside)  # after the check
    got = alloc_root / "fetched"
    got.mkdir()
    (got / "app.bin").write_bytes(b"payload")
    with tarfile.open(got / "app.tar.gz", "w:gz") as tf:
        tf.add(got / "app.bin", arcname="inner.bin")
    for name, kind in (("app.bin", ""), ("app.tar.gz", ".tar.gz")):
        with pytest.raises(ArtifactError, match="cannot be used"):
            _land(got / name, kind, "any", dest, alloc_root)
    assert list(outside.iterdir()) == []


def test_m5_artifact_cannot_land_in_the_agents_state(www: tuple[str, Path], dirs: tuple[Path, Path]) -> None:
    url, root = www
    (root / "web.handle.json").write_text("{}")
    task_dir, alloc_root = dirs
    with pytest.raises(ArtifactError, match=r"\.state"):
        fetch(
            Artifact(source=f"{url}/web.handle.json", destination="../.state/"),
            task_dir=task_dir,
            alloc_root=alloc_root,
        )


def test_l6_errors_do_not_show_url_credentials(www: tuple[str, Path], dirs: tuple[Path, Path]) -> None:
    url, _ = www
    secret = url.replace("http://", "http://user:hunter2@") + "/missing.bin?X-Amz-Signature=abc"
    task_dir, alloc_root = dirs
    with pytest.raises(ArtifactError) as info:
        fetch(Artifact(source=secret), task_dir=task_dir, alloc_root=alloc_root, backoff=0.01)
    assert "hunter2" not in str(info.value)
    assert "Signature" not in str(info.value)
    assert shown(secret).endswith("/missing.bin")


def test_l5_alloc_dir_and_logs_are_not_world_readable(tmp_path: Path) -> None:
    from reconciler.model.alloc_dir import AllocDir

    ad = AllocDir(tmp_path, "a1")
    ad.build(["web"])
    assert ad.root.stat().st_mode & 0o777 == 0o750
    assert ad.logs.stat().st_mode & 0o777 == 0o750
    assert ad.state.stat().st_mode & 0o777 == 0o700
    assert ad.secrets_dir("web").stat().st_mode & 0o777 == 0o700


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/", True),
        ("/web/local/ok.txt", True),
        ("web/local/inner-link", True),  # a link that stays inside is followed
        ("/../outside", False),
        ("/web/../../outside", False),
        ("/web/local/out-link", False),  # a link to outside the allocation
        ("/web/local/secret-link", False),  # a link into a task's secrets/
        ("/web/secrets", False),
        ("/web/secrets/token", False),
        ("/.state", False),
        ("/.state/web.spec", False),
        ("/web/local/state-link", False),
        ("/alloc/\x00", False),
    ],
)
def test_fs_api_paths_stay_in_the_allocation(tmp_path: Path, path: str, allowed: bool) -> None:
    """What `/v1/client/fs/*` may reach (model.alloc_fs.resolve): the allocation directory
    and nothing else, not its `.state/` nor a task's `secrets/`, whatever links point at."""
    root = tmp_path / "alloc1"
    local = root / "web" / "local"
    local.mkdir(parents=True)
    (root / "web" / "secrets").mkdir()
    (root / "web" / "secrets" / "token").write_text("s")
    (root / ".state").mkdir()
    (local / "ok.txt").write_text("ok")
    (tmp_path / "outside").write_text("no")
    os.symlink("ok.txt", local / "inner-link")
    os.symlink(tmp_path / "outside", local / "out-link")
    os.symlink("../secrets/token", local / "secret-link")
    os.symlink("../../.state", local / "state-link")
    if allowed:
        assert resolve(root, path).is_relative_to(root.resolve())
    else:
        with pytest.raises(PathEscapeError):
            resolve(root, path)
