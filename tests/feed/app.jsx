// The page the browser test drives: Knock's own React feed, unchanged,
// pointed at belfryd through the `host` option.  The runner (run.mjs)
// puts the daemon's address, the public key, the user and the user's
// token in window.BELFRY before this bundle runs.
import React from "react";
import { createRoot } from "react-dom/client";
import {
  KnockProvider,
  KnockFeedProvider,
  NotificationFeed,
  NotificationIconButton,
} from "@knocklabs/react";
import "@knocklabs/react/dist/index.css";

const cfg = window.BELFRY;

function App() {
  return (
    <KnockProvider
      apiKey={cfg.apiKey}
      host={cfg.host}
      userId={cfg.userId}
      userToken={cfg.userToken}
    >
      <KnockFeedProvider feedId={cfg.feedId}>
        <div style={{ width: 440, margin: 16, fontFamily: "sans-serif" }}>
          <div style={{ display: "flex", alignItems: "center", gap: 8 }}>
            <NotificationIconButton onClick={() => {}} />
            <span>belfry in-app feed</span>
          </div>
          <NotificationFeed />
        </div>
      </KnockFeedProvider>
    </KnockProvider>
  );
}

createRoot(document.getElementById("root")).render(<App />);
