import type { Address, Client, Log } from "viem";
import { getBlockNumber, getContractEvents } from "viem/actions";

import { clearingHouseAbi } from "../abi/clearingHouse.js";
import type { OperatorLedger, WithdrawalDeadline } from "./OperatorLedger.js";

/** The most blocks one `eth_getLogs` asks for (providers limit the range). */
const MAX_BLOCK_RANGE = 2_000n;

const transferAbi = [
  {
    type: "event",
    name: "Transfer",
    inputs: [
      { name: "from", type: "address", indexed: true },
      { name: "to", type: "address", indexed: true },
      { name: "value", type: "uint256", indexed: false },
    ],
  },
] as const;

export type WatchLedgerParameters = {
  ledger: OperatorLedger;
  /** Called after a withdrawal request of one of the operator's accounts was applied. */
  onWithdrawalRequested?: (deadlines: WithdrawalDeadline[]) => void;
  /** Called when an event could not be applied (a failed re-read). */
  onError?: (error: unknown) => void;
  /** Default: the client's. */
  pollingInterval?: number;
};

/**
 * Keeps an {@link OperatorLedger}'s mirror current from the chain: `WithdrawalRequested` for the
 * ledger's operator is applied at once (so the pending withdrawal shrinks what the ledger
 * accepts before any re-read) and then re-read; `Deposited` and `Withdrawn` for the operator,
 * and token `Transfer`s into the ClearingHouse (EIP-3009 deposits emit no event of their own),
 * re-read the account. After each withdrawal request `onWithdrawalRequested` gets
 * `ledger.withdrawalDeadlines()`, the accounts to clear, earliest first. Returns `unwatch`.
 *
 * @example
 * const unwatch = watchLedger(publicClient, {
 *   ledger,
 *   onWithdrawalRequested: (deadlines) =>
 *     clearPending(wallet, { ledger, token, accounts: deadlines }),
 * });
 */
export function watchLedger(client: Client, parameters: WatchLedgerParameters): () => void {
  const { ledger } = parameters;
  const polling =
    parameters.pollingInterval !== undefined ? { pollingInterval: parameters.pollingInterval } : {};
  const onError = parameters.onError ?? (() => undefined);
  // One re-read at a time, in event order.
  let queue: Promise<unknown> = Promise.resolve();
  const refresh = (payer: Address, token: Address, after?: () => void) => {
    queue = queue
      .then(() => ledger.syncAccount(client, { payer, token }))
      .then(after)
      .catch(onError);
  };

  const onHouseLogs = (logs: readonly Log[]) => {
    for (const log of logs) {
      const event = log as unknown as {
        eventName: string;
        args: {
          payer: Address;
          operator: Address;
          token: Address;
          amount: bigint;
          readyAt: number;
        };
      };
      const { eventName, args } = event;
      if (!["WithdrawalRequested", "Deposited", "Withdrawn"].includes(eventName)) continue;
      if (args.operator.toLowerCase() !== ledger.operator) continue;
      if (!ledger.tokens.includes(args.token.toLowerCase() as Address)) continue;
      if (eventName === "WithdrawalRequested") {
        ledger.setWithdrawal({
          payer: args.payer,
          token: args.token,
          amount: args.amount,
          readyAt: Number(args.readyAt),
        });
        refresh(args.payer, args.token, () =>
          parameters.onWithdrawalRequested?.(ledger.withdrawalDeadlines()),
        );
      } else {
        refresh(args.payer, args.token);
      }
    }
  };

  // Our own block-range log poller rather than viem's filter-based watchContractEvent: viem's
  // unwatch stops polling only after `eth_uninstallFilter` answers, so a watch stopped while the
  // node is unreachable (or shutting down) would poll it forever and keep the process alive. This
  // one stops at once, and needs no filter support from the node.
  const interval = parameters.pollingInterval ?? client.pollingInterval;
  let stopped = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let next: bigint | undefined;
  const tick = async () => {
    timer = undefined;
    try {
      const head = await getBlockNumber(client, { cacheTime: 0 });
      // From the block after the first head seen (as a filter made now would).
      let from: bigint = next ?? head + 1n;
      while (!stopped && from <= head) {
        const last: bigint = from + MAX_BLOCK_RANGE - 1n;
        const toBlock: bigint = last < head ? last : head;
        const range = { fromBlock: from, toBlock };
        const [houseLogs, ...tokenLogs] = await Promise.all([
          getContractEvents(client, {
            address: ledger.clearingHouse,
            abi: clearingHouseAbi,
            ...range,
          }),
          ...ledger.tokens.map((token) =>
            getContractEvents(client, {
              address: token,
              abi: transferAbi,
              eventName: "Transfer",
              args: { to: ledger.clearingHouse },
              ...range,
            }),
          ),
        ]);
        if (stopped) return;
        onHouseLogs(houseLogs as Log[]);
        ledger.tokens.forEach((token, i) => {
          for (const log of tokenLogs[i]!) refresh(log.args.from!, token);
        });
        from = toBlock + 1n;
      }
      next = from;
    } catch (error) {
      if (!stopped) onError(error);
    }
    if (!stopped) timer = setTimeout(() => void tick(), interval);
  };
  void tick();

  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
  };
}
