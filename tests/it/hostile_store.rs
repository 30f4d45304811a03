//! The store against hostile conditions (issue 11), driven through real processes: two writers
//! at once, readers during commits, a writer killed at every stage of a commit, a lock left by a
//! dead process, another pseudonym key, a `CURRENT` pointing out of the store, a manifest from a
//! newer layout, a read-only store folder, a store path that is a file, and a key file other
//! users can read.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::common::{
    assert_nothing_planted, bin, cell, read_table, root, snapshot, stderr, stdout,
};

fn tmp() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

/// `safeguard --quiet ingest FILES... --store STORE`, run in `cwd` (no config around).
fn ingest_cmd(cwd: &Path, store: &Path, files: &[&Path]) -> Command {
    let mut c = bin();
    c.current_dir(cwd).arg("--quiet").arg("ingest");
    for f in files {
        c.arg(f);
    }
    c.arg("--store").arg(store);
    c
}

fn run(c: &mut Command) -> Output {
    c.output().expect("the binary runs")
}

fn assert_ok(o: &Output, what: &str) {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{what} failed:\n{}{}",
        stdout(o),
        stderr(o)
    );
}

/// A user error: exit 1, one `error:` message, never an internal error. Its stderr.
fn user_error(o: &Output, what: &str) -> String {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{what} should exit 1:\n{}{err}",
        stdout(o)
    );
    assert!(err.contains("error: "), "{what}: {err}");
    assert!(!err.contains("internal error"), "{what}: {err}");
    err
}

fn ingest_ok(cwd: &Path, store: &Path, files: &[&Path]) -> Output {
    let o = run(&mut ingest_cmd(cwd, store, files));
    assert_ok(&o, &format!("ingest {files:?}"));
    o
}

/// `n` fictional referrals whose ids start `R<tag>` (children `PFAKE<tag>...`), alternating
/// between LAs 940 and 941.
fn referrals(dir: &Path, tag: &str, n: usize) -> PathBuf {
    let mut s = String::from("referral_id,child_id,la_code,received_at,decision_at\n");
    for i in 0..n {
        let la = if i % 2 == 0 { "940" } else { "941" };
        s.push_str(&format!(
            "R{tag}{i:06},PFAKE{tag}{i:06},{la},2024-05-01T09:00,2024-05-01T15:00\n"
        ));
    }
    let p = dir.join(format!("referrals-{tag}.csv"));
    std::fs::write(&p, s).unwrap();
    p
}

/// How many stored referrals carry each tag (`R<tag>` ids).
fn tags(store: &Path, wanted: &[&str]) -> BTreeMap<String, usize> {
    let df = read_table(store, "referrals");
    let mut out: BTreeMap<String, usize> = wanted.iter().map(|t| (t.to_string(), 0)).collect();
    for i in 0..df.height() {
        let id = cell(&df, "referral_id", i);
        for t in wanted {
            // Tags are distinct letters followed by digits.
            if id
                .strip_prefix('R')
                .and_then(|r| r.strip_prefix(t))
                .is_some_and(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()))
            {
                *out.get_mut(*t).unwrap() += 1;
            }
        }
    }
    out
}

/// The names directly inside the store folder, sorted.
fn entries(store: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

fn current(store: &Path) -> String {
    std::fs::read_to_string(store.join("CURRENT"))
        .unwrap()
        .trim()
        .to_string()
}

/// A process's start time, as `/proc/<pid>/stat` gives it (field 22).
fn start_time(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_string()
}

/// `LOCK`'s text naming a holder.
fn lock_text(pid: u32, start: u64) -> String {
    format!(
        "pid={pid}\nstart={start}\nhost={}\nsince=2026-01-01T00:00:00Z\n",
        hostname()
    )
}

/// The writer lock held by this test process, as a writer holds it (locked, naming itself).
/// Dropping it releases it as a writer does: the file removed, then unlocked.
struct HeldLock {
    file: Option<File>,
    path: PathBuf,
}

fn hold_lock(store: &Path) -> HeldLock {
    std::fs::create_dir_all(store).unwrap();
    let path = store.join("LOCK");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .unwrap();
    file.try_lock().expect("the lock is free");
    let me = std::process::id();
    file.write_all(lock_text(me, start_time(me)).as_bytes())
        .unwrap();
    HeldLock {
        file: Some(file),
        path,
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        drop(self.file.take());
    }
}

// ---------------------------------------------------------------------------------------------
// 1. two writers

#[test]
fn two_ingests_at_once_both_keep_all_their_rows() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    let a = referrals(dir, "A", 1500);
    let b = referrals(dir, "B", 1700);
    // Both start while the lock is held, so they really contend; then it is released and they
    // race for it.
    let held = hold_lock(&store);
    let (tx, rx) = mpsc::channel::<(usize, String)>();
    let mut children = vec![];
    let mut readers = vec![];
    for (i, f) in [&a, &b].into_iter().enumerate() {
        let mut child = ingest_cmd(dir, &store, &[f])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let tx = tx.clone();
        readers.push(std::thread::spawn(move || {
            let mut all = String::new();
            for line in BufReader::new(err).lines() {
                let line = line.unwrap();
                let _ = tx.send((i, line.clone()));
                all.push_str(&line);
                all.push('\n');
            }
            all
        }));
        children.push(child);
    }
    // Wait until both say they are waiting for the holder (this test process).
    let me = std::process::id();
    let mut waiting = [false, false];
    let deadline = Instant::now() + Duration::from_secs(60);
    while waiting != [true, true] {
        let left = deadline.saturating_duration_since(Instant::now());
        let (i, line) = rx
            .recv_timeout(left)
            .expect("both ingests wait for the lock");
        if line.contains("waiting for") && line.contains(&format!("pid {me}")) {
            assert!(line.contains(&store.display().to_string()), "{line}");
            waiting[i] = true;
        }
    }
    assert!(
        entries(&store) == ["LOCK"],
        "nothing written while waiting: {:?}",
        entries(&store)
    );
    drop(held);
    for (i, child) in children.into_iter().enumerate() {
        let o = child.wait_with_output().unwrap();
        let err = readers.remove(0).join().unwrap();
        assert_eq!(o.status.code(), Some(0), "ingest {i}:\n{}{err}", stdout(&o));
    }
    assert_eq!(
        tags(&store, &["A", "B"]),
        BTreeMap::from([("A".into(), 1500), ("B".into(), 1700)])
    );
    assert_eq!(read_table(&store, "referrals").height(), 3200);
    // Two commits, one after the other: generation 2 is live, generation 1 is gone, no lock.
    assert_eq!(entries(&store), ["CURRENT", "gen-000002"]);
    let manifest = std::fs::read_to_string(store.join("gen-000002/manifest.json")).unwrap();
    assert!(manifest.contains("referrals-A.csv") && manifest.contains("referrals-B.csv"));
}

#[test]
fn a_second_writer_told_not_to_wait_fails_naming_the_holder_and_the_store_stays() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    ingest_ok(dir, &store, &[&referrals(dir, "A", 10)]);
    let held = hold_lock(&store);
    let before = snapshot(&store);
    let o =
        run(ingest_cmd(dir, &store, &[&referrals(dir, "B", 10)]).env("SAFEGUARD_LOCK_WAIT", "0"));
    let err = user_error(&o, "ingest while the lock is held");
    let me = std::process::id();
    assert!(err.contains(&format!("pid {me}")), "{err}");
    assert!(err.contains(&store.display().to_string()), "{err}");
    assert!(err.contains("is writing to this store"), "{err}");
    assert_eq!(snapshot(&store), before);
    drop(held);
    assert_eq!(
        tags(&store, &["A", "B"]),
        BTreeMap::from([("A".into(), 10), ("B".into(), 0)])
    );
}

#[test]
fn a_lock_left_by_a_dead_process_is_taken_over_and_one_whose_process_runs_is_not() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    ingest_ok(dir, &store, &[&referrals(dir, "A", 10)]);

    // A holder that is still running (not this test: a `sleep`) named in LOCK, with no kernel
    // lock on the file (as on a file system without locks): it is not taken over.
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    let live = sleeper.id();
    std::fs::write(store.join("LOCK"), lock_text(live, start_time(live))).unwrap();
    let o =
        run(ingest_cmd(dir, &store, &[&referrals(dir, "B", 10)]).env("SAFEGUARD_LOCK_WAIT", "0"));
    let err = user_error(&o, "ingest while a running process is named in LOCK");
    assert!(err.contains(&format!("pid {live}")), "{err}");

    // The same pid with another start time is a reused pid: the holder is gone.
    std::fs::write(store.join("LOCK"), lock_text(live, start_time(live) + 1)).unwrap();
    let o = ingest_ok(dir, &store, &[&referrals(dir, "B", 10)]);
    let err = stderr(&o);
    assert!(
        err.contains("took over") && err.contains(&format!("pid {live}")),
        "{err}"
    );
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();

    // A holder that has exited.
    let mut gone = Command::new("true").spawn().unwrap();
    let dead = gone.id();
    gone.wait().unwrap();
    std::fs::write(store.join("LOCK"), lock_text(dead, 1)).unwrap();
    let o = ingest_ok(dir, &store, &[&referrals(dir, "C", 10)]);
    let err = stderr(&o);
    assert!(
        err.contains("took over") && err.contains(&format!("pid {dead}")),
        "{err}"
    );
    assert!(
        !store.join("LOCK").exists(),
        "the lock is removed when released"
    );

    // A LOCK planted as a link: never written through.
    let outside = dir.join("outside.txt");
    std::fs::write(&outside, "not the store's\n").unwrap();
    std::os::unix::fs::symlink(&outside, store.join("LOCK")).unwrap();
    let o = run(&mut ingest_cmd(dir, &store, &[&referrals(dir, "D", 10)]));
    let err = user_error(&o, "ingest with LOCK a link");
    assert!(err.contains("LOCK is not a plain file"), "{err}");
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap(),
        "not the store's\n"
    );
    std::fs::remove_file(store.join("LOCK")).unwrap();
    assert_eq!(
        tags(&store, &["A", "B", "C"]),
        BTreeMap::from([("A".into(), 10), ("B".into(), 10), ("C".into(), 10)])
    );
}

// ---------------------------------------------------------------------------------------------
// 2. readers during commits

#[test]
fn a_reader_keeps_the_generation_it_opened_until_it_is_done() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    ingest_ok(dir, &store, &[&referrals(dir, "A", 20)]);
    let reader = safeguard::store::Store::open(&store).unwrap();
    ingest_ok(dir, &store, &[&referrals(dir, "B", 30)]);
    assert_eq!(current(&store), "gen-000002");
    // The pinned generation is still there, whole, and the reader still reads it.
    assert_eq!(entries(&store), ["CURRENT", "gen-000001", "gen-000002"]);
    assert_eq!(reader.read_table("referrals").unwrap().height(), 20);
    assert_eq!(read_table(&store, "referrals").height(), 50);
    drop(reader);
    // Released: the next commit removes every older generation.
    ingest_ok(dir, &store, &[&referrals(dir, "C", 40)]);
    assert_eq!(entries(&store), ["CURRENT", "gen-000003"]);
    assert_eq!(read_table(&store, "referrals").height(), 90);
}

#[test]
fn measures_while_ingests_commit_never_fails_and_gives_the_whole_answer() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    ingest_ok(dir, &store, &[&root().join("data-samples/941-case-system")]);
    // Contacts of 2015: they change the store (every partition of LA 941 and the bookkeeping is
    // rewritten) but not the measures of 2024-25.
    let extra: Vec<PathBuf> = (0..3)
        .map(|i| {
            let p = dir.join(format!("contacts-old-{i}.csv"));
            std::fs::write(
                &p,
                format!(
                    "contact_id,child_id,la_code,received_at\nCOLD{i:04},PFAKEOLD{i:04},941,2015-06-0{}T09:00\n",
                    i + 1
                ),
            )
            .unwrap();
            p
        })
        .collect();
    let measures = |out: &Path| -> Output {
        run(bin()
            .current_dir(dir)
            .args(["--quiet", "measures", "--year", "2024-25", "--store"])
            .arg(&store)
            .arg("--out")
            .arg(out))
    };
    let o = measures(&dir.join("before.csv"));
    assert_ok(&o, "measures before");
    let expected = std::fs::read(dir.join("before.csv")).unwrap();
    let contacts = read_table(&store, "contacts").height();

    let writer = {
        let (dir, store, extra) = (dir.to_path_buf(), store.clone(), extra.clone());
        std::thread::spawn(move || {
            for f in &extra {
                ingest_ok(&dir, &store, &[f]);
            }
        })
    };
    let mut runs = 0;
    while !writer.is_finished() || runs < 2 {
        let out = dir.join(format!("during-{runs}.csv"));
        let o = measures(&out);
        assert_ok(&o, &format!("measures run {runs} during the ingests"));
        assert!(
            std::fs::read(&out).unwrap() == expected,
            "measures run {runs} during the ingests gave another answer"
        );
        runs += 1;
    }
    writer.join().unwrap();
    assert_eq!(current(&store), "gen-000004");
    assert_eq!(read_table(&store, "contacts").height(), contacts + 3);
}

// ---------------------------------------------------------------------------------------------
// 3. a writer killed mid-commit

/// The stage of an ingest at which the kill lands.
#[derive(Debug, Clone, Copy)]
enum Stage {
    /// Rows spilled to the staging folder (reading).
    Staging,
    /// The new generation being written.
    GenTmp,
    /// The new generation written (its manifest is last), being synced and renamed.
    GenTmpManifest,
    /// The new generation renamed into place (CURRENT about to be swapped, or just swapped).
    NewGen,
}

fn reached(store: &Path, stage: Stage, live: &str) -> bool {
    let Ok(rd) = std::fs::read_dir(store) else {
        return false;
    };
    rd.flatten().any(|e| {
        let n = e.file_name().to_string_lossy().to_string();
        match stage {
            Stage::Staging => n.starts_with(".staging-"),
            Stage::GenTmp => n.starts_with(".gen-") && n.ends_with(".tmp"),
            Stage::GenTmpManifest => {
                n.starts_with(".gen-")
                    && n.ends_with(".tmp")
                    && e.path().join("manifest.json").exists()
            }
            Stage::NewGen => n.starts_with("gen-") && n.as_str() > live,
        }
    })
}

#[test]
fn a_writer_killed_at_any_stage_leaves_a_whole_generation_and_the_next_cleans_up() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    ingest_ok(dir, &store, &[&referrals(dir, "A", 500)]);
    let stages = [
        Stage::Staging,
        Stage::GenTmp,
        Stage::GenTmpManifest,
        Stage::NewGen,
        Stage::Staging,
        Stage::GenTmp,
        Stage::GenTmpManifest,
        Stage::NewGen,
    ];
    let names = ["B", "C", "D", "E", "F", "G", "H", "I"];
    let n = 2000;
    let mut leftovers_seen = 0;
    let mut committed = BTreeMap::from([("A".to_string(), 500usize)]);
    for (stage, tag) in stages.into_iter().zip(names) {
        let file = referrals(dir, tag, n);
        let live = current(&store);
        let mut child = ingest_cmd(dir, &store, &[&file])
            .env("SAFEGUARD_INGEST_BUFFER_ROWS", "300")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if reached(&store, stage, &live) {
                child.kill().unwrap();
                break;
            }
            assert!(
                Instant::now() < deadline,
                "ingest {tag} never reached {stage:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        child.wait().unwrap();
        if entries(&store)
            .iter()
            .any(|e| e.starts_with('.') || e == "LOCK" || e == "CURRENT.tmp")
        {
            leftovers_seen += 1;
        }
        // CURRENT names a whole generation: every file's rows or none of them.
        let got = tags(&store, &names);
        let this = got[tag];
        assert!(
            this == 0 || this == n,
            "{stage:?}: {this} of the {n} rows of {tag} are stored"
        );
        if this == n {
            committed.insert(tag.to_string(), n);
        }
        let manifest =
            std::fs::read_to_string(store.join(current(&store)).join("manifest.json")).unwrap();
        assert_eq!(
            manifest.contains(&format!("referrals-{tag}.csv")),
            this == n,
            "{stage:?}: the manifest and the rows of {tag} disagree"
        );
        assert_eq!(
            tags(&store, &["A"])["A"],
            500,
            "{stage:?}: earlier rows lost"
        );
    }
    assert!(
        leftovers_seen > 0,
        "no kill landed before its commit finished"
    );

    // The next ingest takes over the lock and removes every leftover.
    let o = ingest_ok(dir, &store, &[&referrals(dir, "J", 5)]);
    assert_eq!(
        entries(&store),
        ["CURRENT".to_string(), current(&store)],
        "leftovers after the next ingest ({})",
        stderr(&o)
    );
    committed.insert("J".into(), 5);
    let all: Vec<&str> = committed.keys().map(|k| k.as_str()).collect();
    assert_eq!(tags(&store, &all), committed);
    assert_eq!(
        read_table(&store, "referrals").height(),
        committed.values().sum::<usize>()
    );
}

// ---------------------------------------------------------------------------------------------
// 4. the store records which key built it

const OTHER_KEY: &str = "another-test-key-fedcba9876543210";

#[test]
fn a_store_refuses_another_key_or_no_key_and_stays_byte_identical() {
    use crate::common::TEST_KEY;
    let d = tmp();
    let dir = d.path();
    let keyed = dir.join("keyed");
    let o = run(ingest_cmd(dir, &keyed, &[&referrals(dir, "A", 4)]).env("SAFEGUARD_KEY", TEST_KEY));
    assert_ok(&o, "keyed ingest");
    let manifest = std::fs::read_to_string(keyed.join("gen-000001/manifest.json")).unwrap();
    let fp = manifest
        .lines()
        .find(|l| l.contains("\"key_fingerprint\""))
        .expect("the manifest records the key's fingerprint");
    assert!(fp.contains("\"hmac-sha256:"), "{fp}");
    let before = snapshot(&keyed);
    let b = referrals(dir, "B", 4);

    let o = run(ingest_cmd(dir, &keyed, &[&b]).env("SAFEGUARD_KEY", OTHER_KEY));
    let err = user_error(&o, "ingest with another key");
    assert!(
        err.contains("differs from the one that built this store"),
        "{err}"
    );
    assert!(err.contains(&keyed.display().to_string()), "{err}");
    assert_eq!(snapshot(&keyed), before);
    let (out1, err1) = (stdout(&o), err);

    let o = run(&mut ingest_cmd(dir, &keyed, &[&b]));
    let err = user_error(&o, "unkeyed ingest into a keyed store");
    assert!(
        err.contains("built with a pseudonym key") && err.contains("this run has none"),
        "{err}"
    );
    assert_eq!(snapshot(&keyed), before);
    assert_nothing_planted(
        &[&keyed],
        &[&out1, &err1, &stdout(&o), &err],
        &[TEST_KEY, OTHER_KEY],
    );

    // The other way: a store built without a key refuses a keyed run.
    let unkeyed = dir.join("unkeyed");
    ingest_ok(dir, &unkeyed, &[&referrals(dir, "A", 4)]);
    assert!(
        std::fs::read_to_string(unkeyed.join("gen-000001/manifest.json"))
            .unwrap()
            .contains("\"key_fingerprint\": \"unkeyed\"")
    );
    let before = snapshot(&unkeyed);
    let o = run(ingest_cmd(dir, &unkeyed, &[&b]).env("SAFEGUARD_KEY", TEST_KEY));
    let err = user_error(&o, "keyed ingest into an unkeyed store");
    assert!(err.contains("built without a pseudonym key"), "{err}");
    assert_eq!(snapshot(&unkeyed), before);
    assert_nothing_planted(&[], &[&stdout(&o), &err], &[TEST_KEY]);

    // The right key goes in.
    let o = run(ingest_cmd(dir, &keyed, &[&b]).env("SAFEGUARD_KEY", TEST_KEY));
    assert_ok(&o, "ingest with the store's key");
    assert_eq!(read_table(&keyed, "referrals").height(), 8);
}

#[test]
fn a_store_from_before_fingerprints_records_the_next_key_but_refuses_no_key_after_cin() {
    use crate::common::TEST_KEY;
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    let o = run(ingest_cmd(dir, &store, &[&referrals(dir, "A", 4)]).env("SAFEGUARD_KEY", TEST_KEY));
    assert_ok(&o, "keyed ingest");
    let mpath = store.join("gen-000001/manifest.json");
    let strip = |text: &str| -> String {
        text.lines()
            .filter(|l| !l.contains("\"key_fingerprint\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let original = std::fs::read_to_string(&mpath).unwrap();
    // As a store written before CIN census sources were: no key recorded, a CIN source.
    std::fs::write(
        &mpath,
        strip(&original).replace("\"canonical CSV\"", "\"CIN census XML\""),
    )
    .unwrap();
    let before = snapshot(&store);
    let o = run(&mut ingest_cmd(dir, &store, &[&referrals(dir, "B", 4)]));
    let err = user_error(&o, "unkeyed ingest into an old store holding CIN sources");
    assert!(err.contains("CIN census"), "{err}");
    assert_eq!(snapshot(&store), before);

    // Without a CIN source: the next run's key is recorded, with a note.
    std::fs::write(&mpath, strip(&original)).unwrap();
    let o = run(ingest_cmd(dir, &store, &[&referrals(dir, "B", 4)]).env("SAFEGUARD_KEY", TEST_KEY));
    assert_ok(&o, "keyed ingest into an old store");
    assert!(
        stderr(&o).contains("did not record which pseudonym key"),
        "{}",
        stderr(&o)
    );
    let now = std::fs::read_to_string(store.join("gen-000002/manifest.json")).unwrap();
    let fp = |t: &str| {
        t.lines()
            .find(|l| l.contains("key_fingerprint"))
            .map(str::to_string)
    };
    assert_eq!(fp(&now), fp(&original));
    let o =
        run(ingest_cmd(dir, &store, &[&referrals(dir, "C", 4)]).env("SAFEGUARD_KEY", OTHER_KEY));
    user_error(&o, "another key after the key was recorded");
}

// ---------------------------------------------------------------------------------------------
// 5. the store does not trust its own files

#[test]
fn current_naming_a_folder_outside_the_store_is_refused() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    let other = dir.join("other");
    ingest_ok(dir, &store, &[&referrals(dir, "A", 4)]);
    ingest_ok(dir, &other, &[&referrals(dir, "B", 4)]);
    let other_before = snapshot(&other);
    std::os::unix::fs::symlink(other.join("gen-000001"), store.join("gen-000009")).unwrap();
    let absolute = other.join("gen-000001").display().to_string();
    for (text, why) in [
        ("../other/gen-000001", "does not name a generation folder"),
        (absolute.as_str(), "does not name a generation folder"),
        (
            "gen-000001/../../other/gen-000001",
            "does not name a generation folder",
        ),
        ("gen-000009", "is a link"),
        ("gen-000007", "damaged"),
    ] {
        std::fs::write(store.join("CURRENT"), text).unwrap();
        let before = snapshot(&store);
        let o = run(&mut ingest_cmd(dir, &store, &[&referrals(dir, "C", 4)]));
        let err = user_error(&o, &format!("ingest with CURRENT = {text}"));
        assert!(err.contains(why), "{text}: {err}");
        assert!(err.contains(&store.display().to_string()), "{text}: {err}");
        let o = run(bin()
            .current_dir(dir)
            .args(["--quiet", "measures", "--store"])
            .arg(&store)
            .args(["--out", "m.csv"]));
        let err = user_error(&o, &format!("measures with CURRENT = {text}"));
        assert!(err.contains(why), "{text}: {err}");
        assert_eq!(snapshot(&store), before, "{text}");
        assert_eq!(snapshot(&other), other_before, "{text}");
    }
}

#[test]
fn a_manifest_from_a_newer_layout_is_refused_for_reading_and_writing() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    ingest_ok(dir, &store, &[&referrals(dir, "A", 4)]);
    let mpath = store.join("gen-000001/manifest.json");
    let text = std::fs::read_to_string(&mpath).unwrap();
    assert!(text.contains("\"layout\": 2,"));
    std::fs::write(&mpath, text.replace("\"layout\": 2,", "\"layout\": 99,")).unwrap();
    let before = snapshot(&store);
    let o = run(&mut ingest_cmd(dir, &store, &[&referrals(dir, "B", 4)]));
    let err = user_error(&o, "ingest into a layout-99 store");
    assert!(
        err.contains("newer safeguard") && err.contains("layout 99"),
        "{err}"
    );
    let o = run(bin()
        .current_dir(dir)
        .args(["--quiet", "report", "--store"])
        .arg(&store)
        .args(["--out", "r"]));
    let err = user_error(&o, "report on a layout-99 store");
    assert!(err.contains("newer safeguard"), "{err}");
    assert_eq!(snapshot(&store), before);
}

/// Makes `dir` unwritable even to root (the tests may run as root): `chmod 555`, and when that
/// does not stop this user, the immutable attribute. None when neither works here.
struct ReadOnly(PathBuf, bool);

fn make_read_only(dir: &Path) -> Option<ReadOnly> {
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let probe = dir.join(".probe-test");
    if File::create(&probe).is_err() {
        return Some(ReadOnly(dir.to_path_buf(), false));
    }
    std::fs::remove_file(&probe).unwrap();
    let immutable = Command::new("chattr")
        .arg("+i")
        .arg(dir)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if immutable && File::create(&probe).is_err() {
        return Some(ReadOnly(dir.to_path_buf(), true));
    }
    if immutable {
        let _ = Command::new("chattr").arg("-i").arg(dir).status();
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    None
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if self.1 {
            let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
        }
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

#[test]
fn a_read_only_store_or_a_store_path_that_is_a_file_is_a_user_error_naming_it() {
    let d = tmp();
    let dir = d.path();
    let store = dir.join("store");
    ingest_ok(dir, &store, &[&referrals(dir, "A", 4)]);
    let before = snapshot(&store);
    match make_read_only(&store) {
        None => eprintln!("SKIPPED (read-only part): cannot make a folder read-only here"),
        Some(_guard) => {
            let o = run(&mut ingest_cmd(dir, &store, &[&referrals(dir, "B", 4)]));
            let err = user_error(&o, "ingest into a read-only store");
            assert!(err.contains(&store.display().to_string()), "{err}");
            assert!(err.contains("cannot write to the store folder"), "{err}");
            // Reading it still works.
            let o = run(bin()
                .current_dir(dir)
                .args(["--quiet", "measures", "--year", "2024-25", "--store"])
                .arg(&store)
                .args(["--out", "m.csv"]));
            assert_ok(&o, "measures on a read-only store");
            assert_eq!(snapshot(&store), before);
        }
    }

    let file = dir.join("not-a-folder");
    std::fs::write(&file, "just a file\n").unwrap();
    let o = run(&mut ingest_cmd(dir, &file, &[&referrals(dir, "B", 4)]));
    let err = user_error(&o, "ingest into a file");
    assert!(
        err.contains(&format!(
            "{}: the store path is not a folder",
            file.display()
        )),
        "{err}"
    );
    let o = run(bin()
        .current_dir(dir)
        .args(["--quiet", "measures", "--store"])
        .arg(&file)
        .args(["--out", "m.csv"]));
    let err = user_error(&o, "measures on a file");
    assert!(err.contains(&file.display().to_string()), "{err}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "just a file\n");
}

#[test]
fn a_key_file_other_users_can_read_gives_one_warning() {
    let d = tmp();
    let dir = d.path();
    let key_text = "fictional-partnership-key-0042";
    let key = dir.join("partnership.key");
    std::fs::write(&key, key_text).unwrap();
    std::fs::write(
        dir.join("safeguard.toml"),
        "key_file = \"partnership.key\"\n",
    )
    .unwrap();
    let ingest = |store: &str| {
        run(&mut ingest_cmd(
            dir,
            &dir.join(store),
            &[&referrals(dir, "A", 4)],
        ))
    };
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let o = ingest("s1");
    assert_ok(&o, "ingest with a shared key file");
    let err = stderr(&o);
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    assert!(
        err.contains("partnership.key:") && err.contains("chmod 600") && err.contains("644"),
        "{err}"
    );
    assert_nothing_planted(&[&dir.join("s1")], &[&stdout(&o), &err], &[key_text]);

    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let o = ingest("s2");
    assert_ok(&o, "ingest with a private key file");
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}
