import { describeEip3009Behaviour } from "./eip3009Behaviour.js";
import { testTokenSetup, usdcSetup } from "./tokens.js";

// One behavioural suite, two tokens: the project's test token and Circle's FiatTokenV2_2 (USDC).
describeEip3009Behaviour(testTokenSetup);
describeEip3009Behaviour(usdcSetup);
