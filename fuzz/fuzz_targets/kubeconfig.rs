//! Kubeconfig files: kube's `Kubeconfig::from_yaml` plus our handling in
//! `hollow::config_from_yaml` (context selection, cluster and user
//! resolution, certificates, tokens).
#![no_main]

use kubemark_fuzz::runtime;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(yaml) = std::str::from_utf8(data) else {
        return;
    };
    // A kubeconfig may name files (certificate-authority, tokenFile, ...);
    // device and proc files could block or be endless, which is the
    // kernel's behaviour, not ours.
    if yaml.contains("/dev") || yaml.contains("/proc") || yaml.contains("/sys") {
        return;
    }
    let _ = runtime().block_on(hollow::config_from_yaml(yaml, None));
    let _ = runtime().block_on(hollow::config_from_yaml(yaml, Some("kubemark")));
});
