//! The configuration model, its TOML form and its validation. The file format is described
//! in the crate documentation.

mod errors;
mod fs;
mod model;
mod raw;
mod validate;

pub use errors::ConfigError;
pub use fs::socket_is_listening;
pub use model::{
    device_name, AcceptRemotes, BridgeConfig, Config, PortConfig, PortKind, SocketAccess,
    StaticMac, StaticNeighbor, StaticTarget, VhostMode, VtepConfig, DEFAULT_BRIDGE_NAME,
    DEFAULT_MAC_AGING_SECS, DEFAULT_MAC_TABLE_SIZE, DEFAULT_ORIGIN, DEFAULT_SOCKET_DIR_MODE,
    DEFAULT_SOCKET_MODE, DEFAULT_SOURCE_PORTS, DEFAULT_TX_RETRIES_MAX, DEFAULT_UNDERLAY_MTU,
    DEFAULT_VTEP_TTL, DEFAULT_VXLAN_UDP_PORT, MAX_BRIDGE_PORTS, MAX_MAC_AGING_SECS,
    MAX_MAC_TABLE_SIZE, MAX_NAME_LEN, MAX_OPENED_PORTS, MAX_REMOTE_VTEPS, MAX_SOCKET_PATH_LEN,
    MAX_TX_RETRIES, MAX_UNDERLAY_MTU, MAX_UNDERLAY_NEIGHBORS, MAX_VNI, MIN_UNDERLAY_MTU,
    VHOST_DEVICE_PREFIX,
};

use errors::{parse_error, Errs};
use raw::RawConfig;
use std::path::Path;

impl Config {
    /// Parses a configuration file's text and checks its shape: everything [`validate`]
    /// checks except the filesystem (socket directories) and the "at least one bridge port"
    /// rule, which `--vhost-user` ports added later may satisfy.
    ///
    /// `origin` names the text in error messages, normally the file name.
    ///
    /// [`validate`]: Config::validate
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Config, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| parse_error(&e, text, origin))?;
        let errs = Errs { origin };
        let config = Config::from_raw(raw, &errs)?;
        config.check(&errs, false)?;
        Ok(config)
    }

    /// Reads `path` and parses it with [`Config::from_toml_str`], naming the file in errors.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| {
            let fix = match source.kind() {
                std::io::ErrorKind::NotFound => {
                    "check the path of the configuration file".to_string()
                }
                std::io::ErrorKind::PermissionDenied => {
                    "make the file readable by the dataplane's user".to_string()
                }
                std::io::ErrorKind::InvalidData => "save the file as UTF-8 text".to_string(),
                _ => "check that the path names a readable text file".to_string(),
            };
            ConfigError::Read {
                origin: origin.clone(),
                source,
                fix,
            }
        })?;
        Config::from_toml_str(&text, &origin)
    }

    /// Checks everything: the shape rules of [`Config::from_toml_str`], that the bridge has at
    /// least one port, and the filesystem (server sockets' directories exist and are writable,
    /// nothing but a stale socket sits at a server socket path). Messages name the origin
    /// [`DEFAULT_ORIGIN`]; use [`Config::validate_with_origin`] to name the file instead.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with_origin(DEFAULT_ORIGIN)
    }

    /// [`Config::validate`], naming `origin` (e.g. `"/etc/dataplane.toml"` or
    /// `"/etc/dataplane.toml + command line"`) in messages.
    pub fn validate_with_origin(&self, origin: &str) -> Result<(), ConfigError> {
        let errs = Errs { origin };
        self.check(&errs, true)?;
        self.check_filesystem(&errs)
    }
}

#[cfg(test)]
mod tests;
