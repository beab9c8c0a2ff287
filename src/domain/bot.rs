//! What can be asked of a tenant's bot.

/// The bot actions an admin (or an approval) can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotCommand {
    Start,
    Stop,
    Restart,
    ForceRestart,
}

impl BotCommand {
    pub fn parse(action: &str) -> Option<Self> {
        match action {
            "start" => Some(Self::Start),
            "stop" => Some(Self::Stop),
            "restart" => Some(Self::Restart),
            "force-restart" => Some(Self::ForceRestart),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
            Self::ForceRestart => "force-restart",
        }
    }
}
