/**
 * What the client's `help` prints (without colour), the same in script mode and in the REPL: one
 * expectation for `client_test.ts` and `client_tty_test.ts`.
 */
export const HELP_LINES: readonly string[] = [
  "commands (arguments separated by spaces, or by ':' as in chat:2:hello):",
  "  register <username> <password>         Create an account",
  "  login <id> [password]                  Log in; shows friends, groups",
  "  chat <id> <message>                    Send a message to a user",
  "  addfriend <id>                         Add a friend",
  "  creategroup <groupname> [description]  Create a group",
  "  addgroup <groupid>                     Join a group",
  "  groupchat <groupid> <message>          Send a message to a group",
  "  friends                                List friends, who is online, unread",
  "  groups                                 List groups, members, unread",
  "  history <user|g:group> [n]             Show a conversation's last messages",
  "  more                                   Show older messages of that history",
  "  read <user|g:group>                    Mark a conversation read (✓✓ read)",
  "  typing <user|g:group>                  Tell a conversation you are typing",
  "  loginout                               Log out, stay connected",
  "  reconnect                              Connect again after a loss",
  "  help [command]                         List commands or explain one",
  "  quit                                   Leave the client",
];
