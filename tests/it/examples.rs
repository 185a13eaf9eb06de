//! The deployment examples (issue 6) without Docker or a cluster: every YAML file parses, the generated Kubernetes
//! PrometheusRule and dashboard ConfigMap match alerts/ and dashboards/, docker-compose's services and files exist
//! and CrowdSec's volumes are mounted read-only into the exporter, the Kubernetes Deployment mounts the LAPI's
//! volume read-only, and the systemd unit is hardened.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml_ng::Value;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn files_under(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, exts, out);
        } else if p
            .extension()
            .is_some_and(|x| exts.contains(&x.to_str().unwrap()))
        {
            out.push(p);
        }
    }
}

/// Every document of a (possibly multi-document) YAML file.
fn docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap();
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            serde::Deserialize::deserialize(d).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        })
        .collect()
}

fn one_doc(rel: &str) -> Value {
    let mut d = docs(&repo().join(rel));
    assert_eq!(d.len(), 1, "{rel}");
    d.remove(0)
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is not a string in {v:?}"))
}

#[test]
fn every_example_yaml_parses() {
    let mut files = Vec::new();
    files_under(&repo().join("examples"), &["yml", "yaml"], &mut files);
    assert!(files.len() >= 10, "{files:?}");
    for f in &files {
        let d = docs(f);
        assert!(!d.is_empty(), "{}: empty", f.display());
        assert!(
            d.iter().all(Value::is_mapping),
            "{}: a document is no mapping",
            f.display()
        );
    }
}

#[test]
fn kubernetes_manifests_are_complete_and_read_only() {
    let dir = repo().join("examples/kubernetes");
    let mut kinds = BTreeSet::new();
    let kustomization = one_doc("examples/kubernetes/kustomization.yaml");
    for r in kustomization["resources"].as_sequence().unwrap() {
        let file = dir.join(r.as_str().unwrap());
        assert!(file.is_file(), "kustomization lists {}", file.display());
        for d in docs(&file) {
            assert!(
                d["apiVersion"].is_string(),
                "{}: apiVersion",
                file.display()
            );
            assert!(!s(&d["metadata"], "name").is_empty());
            kinds.insert(s(&d, "kind").to_owned());
        }
    }
    for want in [
        "Deployment",
        "Service",
        "ServiceMonitor",
        "PrometheusRule",
        "ConfigMap",
    ] {
        assert!(kinds.contains(want), "no {want} in {kinds:?}");
    }

    let exporter = docs(&dir.join("exporter.yaml"));
    let deployment = exporter.iter().find(|d| d["kind"] == "Deployment").unwrap();
    let service = exporter.iter().find(|d| d["kind"] == "Service").unwrap();
    // The Service name is the job label the alerts select.
    assert_eq!(s(&service["metadata"], "name"), "crowdsec-bouncer-exporter");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let sc = &container["securityContext"];
    assert_eq!(sc["readOnlyRootFilesystem"], Value::Bool(true));
    assert_eq!(sc["allowPrivilegeEscalation"], Value::Bool(false));
    assert_eq!(sc["capabilities"]["drop"][0], "ALL");
    let mount = &container["volumeMounts"][0];
    assert_eq!(
        mount["readOnly"],
        Value::Bool(true),
        "the LAPI volume is read-only"
    );
    let volume = pod["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|v| v["name"] == mount["name"])
        .unwrap();
    assert_eq!(
        volume["persistentVolumeClaim"]["readOnly"],
        Value::Bool(true)
    );
    // The exporter runs on the LAPI's node (a ReadWriteOnce volume).
    assert!(
        pod["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            .is_sequence()
    );
    let args: Vec<&str> = container["args"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(args
        .iter()
        .any(|a| a.starts_with(&format!("--lapi.db={}/", s(mount, "mountPath")))));
    let sm = one_doc("examples/kubernetes/servicemonitor.yaml");
    assert_eq!(
        sm["spec"]["selector"]["matchLabels"],
        service["metadata"]["labels"]
    );
    assert_eq!(
        sm["spec"]["endpoints"][0]["port"],
        service["spec"]["ports"][0]["name"]
    );
}

/// Fails when alerts/ or dashboards/ change without `scripts/gen-examples.py`.
#[test]
fn generated_kubernetes_files_match_alerts_and_dashboards() {
    let rule = one_doc("examples/kubernetes/prometheusrule.yaml");
    assert_eq!(rule["kind"], "PrometheusRule");
    let alerts = one_doc("alerts/crowdsec-bouncers.rules.yml");
    assert!(
        rule["spec"] == alerts,
        "examples/kubernetes/prometheusrule.yaml differs from alerts/crowdsec-bouncers.rules.yml: run scripts/gen-examples.py"
    );

    let cm = one_doc("examples/kubernetes/grafana-dashboards.yaml");
    assert_eq!(cm["metadata"]["labels"]["grafana_dashboard"], "1");
    let data = cm["data"].as_mapping().unwrap();
    let mut boards = Vec::new();
    files_under(&repo().join("dashboards"), &["json"], &mut boards);
    assert_eq!(
        data.len(),
        boards.len(),
        "one ConfigMap entry per dashboard"
    );
    for b in boards {
        let name = b.file_name().unwrap().to_str().unwrap();
        let text = std::fs::read_to_string(&b).unwrap();
        assert!(
            data.get(name).and_then(Value::as_str) == Some(text.as_str()),
            "ConfigMap entry {name} differs from dashboards/{name}: run scripts/gen-examples.py"
        );
    }
}

#[test]
fn docker_compose_services_files_and_read_only_mounts() {
    let examples = repo().join("examples");
    let compose = one_doc("examples/docker-compose.yml");
    let services = compose["services"].as_mapping().unwrap();
    let names: BTreeSet<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    for want in [
        "crowdsec",
        "bouncer",
        "crowdsec-bouncer-exporter",
        "prometheus",
        "alertmanager",
        "grafana",
    ] {
        assert!(names.contains(want), "service {want} missing: {names:?}");
    }
    let volumes: BTreeSet<&str> = compose["volumes"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap())
        .collect();
    for (name, svc) in services {
        let name = name.as_str().unwrap();
        // Built images: the context and Dockerfile exist, and so does every file the Dockerfile copies.
        if let Some(build) = svc.get("build") {
            let ctx = examples.join(s(build, "context"));
            let dockerfile = ctx.join(s(build, "dockerfile"));
            assert!(dockerfile.is_file(), "{name}: {}", dockerfile.display());
            for line in std::fs::read_to_string(&dockerfile).unwrap().lines() {
                if let Some(args) = line.strip_prefix("COPY ") {
                    if args.starts_with("--from") {
                        continue;
                    }
                    let parts: Vec<&str> = args.split_whitespace().collect();
                    // `${BINARY}`: the exporter's image copies a binary built outside (node_exporter style);
                    // scripts/check-image.sh builds that image for real.
                    for src in parts[..parts.len() - 1].iter().filter(|s| !s.contains('$')) {
                        assert!(
                            ctx.join(src).exists(),
                            "{name}: COPY {src} not in {}",
                            ctx.display()
                        );
                    }
                }
            }
        } else {
            assert!(
                svc["image"].as_str().is_some_and(|i| i.contains(':')),
                "{name}: pinned image"
            );
        }
        for dep in svc["depends_on"].as_sequence().into_iter().flatten() {
            assert!(
                names.contains(dep.as_str().unwrap()),
                "{name} depends on {dep:?}"
            );
        }
        if let Some(deps) = svc["depends_on"].as_mapping() {
            assert!(
                deps.keys().all(|k| names.contains(k.as_str().unwrap())),
                "{name}"
            );
        }
        // Mounts: host paths exist, named volumes are declared. Published ports stay on 127.0.0.1.
        for m in svc["volumes"].as_sequence().into_iter().flatten() {
            let src = m.as_str().unwrap().split(':').next().unwrap();
            if src.starts_with('.') {
                assert!(
                    examples.join(src).exists(),
                    "{name}: mount {src} does not exist"
                );
            } else {
                assert!(volumes.contains(src), "{name}: volume {src} not declared");
            }
        }
        for p in svc["ports"].as_sequence().into_iter().flatten() {
            assert!(
                p.as_str().unwrap().starts_with("127.0.0.1:"),
                "{name}: port {p:?}"
            );
        }
    }
    // The exporter reads CrowdSec's volumes, read-only, and nothing else.
    let exporter = &compose["services"]["crowdsec-bouncer-exporter"];
    let crowdsec_volumes: BTreeSet<&str> = compose["services"]["crowdsec"]["volumes"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().split(':').next().unwrap())
        .collect();
    let mut mounted = BTreeSet::new();
    for m in exporter["volumes"].as_sequence().unwrap() {
        let m = m.as_str().unwrap();
        assert!(m.ends_with(":ro"), "exporter mount {m} is not read-only");
        let src = m.split(':').next().unwrap();
        assert!(
            crowdsec_volumes.contains(src) || src.starts_with("./docker/"),
            "{m}"
        );
        mounted.insert(src);
    }
    assert!(
        crowdsec_volumes.iter().all(|v| mounted.contains(v)),
        "{mounted:?}"
    );
    // It checks the bouncer's config file (the one the bouncer image uses) and asks the LAPI's /health by name.
    let args: Vec<&str> = exporter["command"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        args.contains(&"--bouncers.config-dir=/etc/crowdsec-bouncers"),
        "{args:?}"
    );
    assert!(
        args.contains(&"--lapi.url=http://crowdsec:8080"),
        "{args:?}"
    );
    assert_eq!(exporter["read_only"], Value::Bool(true));
    assert_eq!(exporter["cap_drop"][0], "ALL");
}

#[test]
fn prometheus_example_scrapes_the_job_the_alerts_expect() {
    let prom = one_doc("examples/prometheus.yml");
    let job = prom["scrape_configs"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|j| j["job_name"] == "crowdsec-bouncer-exporter")
        .expect("job crowdsec-bouncer-exporter");
    assert!(job["static_configs"][0]["targets"][0]
        .as_str()
        .unwrap()
        .ends_with(":10423"));
    let rules = prom["rule_files"][0].as_str().unwrap();
    assert!(repo().join("examples").join(rules).is_file(), "{rules}");
    // In docker-compose, the same relative path from /etc/prometheus reaches the mounted alerts folder.
    let compose = std::fs::read_to_string(repo().join("examples/docker-compose.yml")).unwrap();
    assert!(rules.starts_with("../alerts/"));
    assert!(compose.contains("- ../alerts:/etc/alerts:ro"));
    assert!(compose.contains("- ./prometheus.yml:/etc/prometheus/prometheus.yml:ro"));
}

#[test]
fn systemd_unit_is_hardened() {
    let unit =
        std::fs::read_to_string(repo().join("examples/systemd/crowdsec-bouncer-exporter.service"))
            .unwrap();
    let directives: BTreeSet<&str> = unit
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .collect();
    for want in [
        "User=crowdsec-bouncer-exporter",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadOnlyPaths=/etc/crowdsec /var/lib/crowdsec/data",
        "CapabilityBoundingSet=",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
    ] {
        assert!(directives.contains(want), "unit lacks {want}");
    }
    assert!(
        !directives.iter().any(|d| d.starts_with("ReadWritePaths")),
        "the exporter writes nowhere"
    );
    // Issue 25: no `crowdsec` group to create; the install notes give the package's ACL step, word for word.
    assert!(!directives
        .iter()
        .any(|d| d.starts_with("SupplementaryGroups=crowdsec") || *d == "Group=crowdsec"));
    let step = "setfacl -m u:crowdsec-bouncer-exporter:x,d:u:crowdsec-bouncer-exporter:r /var/lib/crowdsec/data && \
                setfacl -m u:crowdsec-bouncer-exporter:r /var/lib/crowdsec/data/crowdsec.db*";
    assert!(
        unit.contains(&format!("#   {step}\n")),
        "the unit's install notes lack the step"
    );
}

/// Issue 25: README's first screen is the way to a firing alert: its Prometheus configuration (the scrape job and
/// the package's rule folder) passes the real promtool with the rules the package ships there, and README stays
/// short (reference lives in docs/).
#[test]
fn readmes_first_screen_prometheus_config_passes_promtool() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 300,
        "README.md has {lines} lines; move reference to docs/"
    );
    let block = readme
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .expect("README has a yaml block");
    let first_screen = &readme[..readme.find("## What it watches").expect("README section")];
    assert!(
        first_screen.contains(block),
        "the Prometheus configuration is on README's first screen"
    );
    for want in [
        "apt install",
        "systemctl reload prometheus",
        "ALERTS",
        "/alerts",
    ] {
        assert!(
            first_screen.contains(want),
            "README's first screen lacks {want}"
        );
    }
    let config: Value = serde_yaml_ng::from_str(block).unwrap();
    assert_eq!(
        config["scrape_configs"][0]["job_name"],
        "crowdsec-bouncer-exporter"
    );
    let packaged = "/usr/share/crowdsec-bouncer-exporter/alerts/";
    let rules = config["rule_files"][0].as_str().unwrap();
    assert!(rules.starts_with(packaged), "{rules}");
    // The package puts alerts/*.rules.yml there (Cargo.toml's [package.metadata.deb] assets).
    let cargo = std::fs::read_to_string(repo().join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!(
            "[\"alerts/*.rules.yml\", \"{}\", \"644\"]",
            packaged.trim_start_matches('/')
        )),
        "Cargo.toml no longer ships alerts/*.rules.yml to {packaged}"
    );
    let dir = tempfile::tempdir().unwrap();
    let here = block.replace(packaged, &format!("{}/alerts/", repo().display()));
    let file = dir.path().join("prometheus.yml");
    std::fs::write(&file, here).unwrap();
    let out = std::process::Command::new(crate::common::real::part("promtool"))
        .args(["check", "config"])
        .arg(&file)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool check config: {text}");
    assert!(
        text.contains("crowdsec-bouncers.rules.yml") && text.contains("SUCCESS"),
        "promtool found no rules: {text}"
    );
}

/// Issue 25 #3: the release workflow runs on tags, builds both architectures with the scripts CI runs (Debian's
/// cross linker for arm64) and publishes the files README's "Releases" names, with their checksums.
#[test]
fn release_workflow_builds_what_readme_promises() {
    let text = std::fs::read_to_string(repo().join(".github/workflows/release.yml")).unwrap();
    let wf: Value = serde_yaml_ng::from_str(&text).unwrap();
    // serde_yaml_ng reads the key `on` as a string (YAML 1.2), not as a boolean.
    assert_eq!(wf["on"]["push"]["tags"][0], "v*");
    let targets: Vec<&str> = wf["jobs"]["build"]["strategy"]["matrix"]["include"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| i["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        targets,
        ["x86_64-unknown-linux-gnu", "aarch64-unknown-linux-gnu"]
    );
    for want in [
        ".ci/run",
        "scripts/package-deb.sh",
        "scripts/check-deb.sh",
        "scripts/check-image.sh",
        "gcc-aarch64-linux-gnu",
        "CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER: aarch64-linux-gnu-gcc",
        "sha256sum -- * >SHA256SUMS",
    ] {
        assert!(text.contains(want), "release.yml lacks {want}");
    }
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    for file in [
        "crowdsec-bouncer-exporter_<version>-1_<arch>.deb",
        "crowdsec-bouncer-exporter-<version>-<arch>.tar.gz",
        "crowdsec-bouncer-exporter-image-<version>-<arch>.tar",
        "SHA256SUMS",
    ] {
        assert!(readme.contains(file), "README's Releases lacks {file}");
        assert!(text.contains(file), "release.yml does not describe {file}");
    }
    // The names the jobs write follow those patterns.
    for made in [
        "crowdsec-bouncer-exporter-$v-${{ matrix.arch }}",
        "crowdsec-bouncer-exporter-image-$v-${{ matrix.arch }}.tar",
    ] {
        assert!(text.contains(made), "release.yml does not write {made}");
    }
}
