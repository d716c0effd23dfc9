package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/meshmq/meshmq/dashboard"
	"github.com/meshmq/meshmq/peer"
)

// Mount the dashboard of a peer under /debug/meshmq/ on an administrative
// mux: the page is at /debug/meshmq/, its data at /debug/meshmq/api/state.
func Example() {
	ctx := context.Background()
	p, err := peer.New(ctx, peer.WithName("orders"))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	h, err := dashboard.New(p, dashboard.WithTitle("orders · eu-west"), dashboard.WithRefresh(2*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/debug/meshmq/", http.StripPrefix("/debug/meshmq", h))
	// In a service: http.ListenAndServe("127.0.0.1:8081", mux), on an
	// address only operators reach. Here, a test server.
	srv := httptest.NewServer(mux)
	defer srv.Close()

	res, err := http.Get(srv.URL + "/debug/meshmq/api/state")
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	var st dashboard.State
	if err := json.NewDecoder(res.Body).Decode(&st); err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.Title)
	fmt.Println(st.Members[0].Name, st.Members[0].State)
	// Output:
	// orders · eu-west
	// orders self
}
