//! Facts about a block device that the kernel exposes in sysfs (model, serial, vendor,
//! removable, rotational, a loop device's backing file), and the honest statement of whether
//! hidden areas (HPA/DCO) were checked.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// What sysfs says about a block device. Every field is `None` when the kernel does not
/// expose it for this device (loop devices have no model or serial).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceInfo {
    /// Kernel name (`sda`, `sda1`, `nvme0n1`, `loop3`).
    pub name: Option<String>,
    /// `major:minor` of the device.
    pub dev: String,
    /// `true` when the device is a partition; the other facts are then its disk's.
    pub partition: bool,
    /// The disk's model (`device/model`).
    pub model: Option<String>,
    /// The disk's vendor (`device/vendor`; SCSI and USB bridges only).
    pub vendor: Option<String>,
    /// The disk's serial number (`device/serial`, exposed for NVMe and some others).
    pub serial: Option<String>,
    /// The world-wide identifier (`device/wwid` or `wwid`), which names a disk when no
    /// serial is exposed.
    pub wwid: Option<String>,
    /// The kernel's removable-media flag.
    pub removable: Option<bool>,
    /// The kernel's rotational flag (`queue/rotational`; 0 for SSDs, NVMe, loop).
    pub rotational: Option<bool>,
    /// For a loop device, the file it maps (`loop/backing_file`).
    pub loop_backing_file: Option<String>,
    /// The device's place in sysfs (`/sys/devices/...`), which shows its bus (USB, PCI, virtual).
    pub sysfs_path: Option<String>,
}

/// Whether hidden areas (an ATA Host Protected Area or Device Configuration Overlay) were
/// looked for, and what could be said.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiddenAreas {
    /// `true` only when the native maximum was actually compared with the visible size.
    pub checked: bool,
    /// What was done, or why nothing could be.
    pub detail: String,
}

/// Reads what sysfs exposes for the block device `major:minor`.
pub(crate) fn device_info(major: u32, minor: u32) -> DeviceInfo {
    let dev = format!("{major}:{minor}");
    let mut info = DeviceInfo { dev: dev.clone(), ..DeviceInfo::default() };
    let Ok(node) = fs::canonicalize(Path::new("/sys/dev/block").join(&dev)) else {
        return info;
    };
    info.name = node.file_name().map(|n| n.to_string_lossy().into_owned());
    info.partition = node.join("partition").exists();
    // A partition's disk is its parent directory; the disk carries device/, queue/, removable.
    let disk: PathBuf = if info.partition {
        node.parent().map_or_else(|| node.clone(), Path::to_path_buf)
    } else {
        node.clone()
    };
    info.sysfs_path = Some(node.to_string_lossy().into_owned());
    info.model = attribute(&disk.join("device/model"));
    info.vendor = attribute(&disk.join("device/vendor"));
    info.serial = attribute(&disk.join("device/serial"));
    info.wwid = attribute(&disk.join("device/wwid")).or_else(|| attribute(&disk.join("wwid")));
    info.removable = flag(&disk.join("removable"));
    info.rotational = flag(&disk.join("queue/rotational"));
    info.loop_backing_file = attribute(&disk.join("loop/backing_file"));
    info
}

/// Hidden areas are never checked by this crate: that needs ATA IDENTIFY DEVICE and READ
/// NATIVE MAX ADDRESS (or their SCSI/NVMe counterparts) through SG_IO, which it does not
/// issue. The detail says what the interface would have allowed.
pub(crate) fn hidden_areas(info: &DeviceInfo) -> HiddenAreas {
    let name = info.name.as_deref().unwrap_or("");
    let path = info.sysfs_path.as_deref().unwrap_or("");
    let detail = if name.starts_with("loop") {
        "not checked: a loop device maps a file and has no ATA interface (no HPA/DCO can exist)".to_owned()
    } else if name.starts_with("nvme") {
        "not checked: NVMe has no HPA/DCO; namespaces and their capacity were not queried".to_owned()
    } else if path.contains("/usb") {
        "not checked: the USB bridge does not pass ATA IDENTIFY / READ NATIVE MAX ADDRESS through reliably, \
         and this tool does not issue them"
            .to_owned()
    } else if name.starts_with("sd") || name.starts_with("hd") {
        "not checked: this tool does not issue ATA IDENTIFY DEVICE / READ NATIVE MAX ADDRESS (SG_IO); \
         an HPA or DCO would hide sectors beyond the visible size"
            .to_owned()
    } else {
        "not checked: the interface does not expose ATA IDENTIFY / READ NATIVE MAX ADDRESS".to_owned()
    };
    HiddenAreas { checked: false, detail }
}

/// A sysfs text attribute, trimmed; `None` when absent or empty.
fn attribute(path: &Path) -> Option<String> {
    let text = fs::read_to_string(path).ok()?;
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// A sysfs 0/1 attribute.
fn flag(path: &Path) -> Option<bool> {
    match attribute(path)?.as_str() {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    }
}
